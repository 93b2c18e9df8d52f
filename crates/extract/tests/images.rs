//! Kernel images and modules built here the way the kernel build makes
//! them, through every decompressor; truncated and corrupt inputs.

mod common;

use std::error::Error as _;

use bpfld_extract::compression::{DecodeError, DecodeErrorKind};
use bpfld_extract::{bzimage, extract_btf, BtfHeaderError, BzImageError, Cause, Compression, ElfError, ElfKind, Source};
use common::*;

const KERNEL_FORMATS: [Compression; 6] =
    [Compression::Gzip, Compression::Xz, Compression::Zstd, Compression::Lz4Legacy, Compression::Bzip2, Compression::Lzma];

#[test]
fn bzimage_payload_of_every_kernel_compression() {
    for format in KERNEL_FORMATS {
        let img = fake_kernel(format);
        let ex = extract_btf("vmlinuz-test", &img).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(
            ex.source,
            Source::BzImage { compression: format, payload_offset: PAYLOAD_AT as u64, version: Some(VERSION.to_string()) },
            "{format:?}"
        );
        assert_eq!(ex.kind, ElfKind::Vmlinux);
        assert_tiny_btf(ex.btf.as_deref().expect("vmlinux has .BTF"));
        let header = bzimage::parse("vmlinuz-test", &img).unwrap();
        assert_eq!(header.release(), Some("6.99.0-7-amd64"));
        assert_eq!(header.protocol, 0x20f);
    }
}

#[test]
fn kernel_xz_payload_needs_the_x86_bcj_filter() {
    // The filter changes the compressed stream (it rewrites the e8 calls
    // of .text); extraction still gives the original bytes back.
    let vmlinux = fake_vmlinux();
    assert_ne!(xz(&vmlinux, true), xz(&vmlinux, false));
    let mut payload = xz(&vmlinux, true);
    payload.extend_from_slice(&(vmlinux.len() as u32).to_le_bytes());
    let ex = extract_btf("vmlinuz-bcj", &fake_bzimage(&payload)).unwrap();
    assert_tiny_btf(&ex.btf.unwrap());
}

#[test]
fn payload_is_found_by_header_not_by_magic() {
    // A gzip magic in the setup code before the payload must not be taken
    // for the payload (a magic scan would try it first).
    let mut img = fake_kernel(Compression::Zstd);
    img[0x400..0x403].copy_from_slice(&[0x1f, 0x8b, 0x08]);
    let ex = extract_btf("vmlinuz-decoy", &img).unwrap();
    assert!(matches!(ex.source, Source::BzImage { compression: Compression::Zstd, .. }));
}

#[test]
fn raw_vmlinux_elf() {
    let ex = extract_btf("vmlinux", &fake_vmlinux()).unwrap();
    assert_eq!(ex.source, Source::Elf);
    assert_eq!(ex.kind, ElfKind::Vmlinux);
    assert_tiny_btf(&ex.btf.unwrap());
}

#[test]
fn modules_plain_and_compressed() {
    let ko = fake_module();
    let inputs = [
        ("m.ko", ko.clone(), Source::Elf),
        ("m.ko.xz", xz(&ko, false), Source::Compressed(Compression::Xz)),
        ("m.ko.zst", compress(Compression::Zstd, &ko), Source::Compressed(Compression::Zstd)),
        ("m.ko.gz", compress(Compression::Gzip, &ko), Source::Compressed(Compression::Gzip)),
    ];
    for (name, bytes, source) in inputs {
        let ex = extract_btf(name, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ex.source, source, "{name}");
        assert_eq!(ex.kind, ElfKind::Module, "{name}");
        assert_tiny_btf(&ex.btf.unwrap());
    }
}

#[test]
fn module_without_btf() {
    let ko = fake_elf(ET_REL, &[(".text", &[0xcc; 16])]);
    let ex = extract_btf("nobtf.ko", &ko).unwrap();
    assert_eq!(ex.kind, ElfKind::Module);
    assert!(ex.btf.is_none());
}

#[test]
fn truncated_payload_names_file_and_end_offset() {
    let mut vmlinux_bin = fake_vmlinux();
    vmlinux_bin.extend_from_slice(&[0u8; 8]);
    for format in KERNEL_FORMATS {
        let full = compress(format, &vmlinux_bin);
        let cut = &full[..full.len() / 2];
        let mut payload = cut.to_vec();
        if format.kernel_appends_size() {
            payload.extend_from_slice(&(vmlinux_bin.len() as u32).to_le_bytes());
        }
        let err = extract_btf("vmlinuz-cut", &fake_bzimage(&payload)).unwrap_err();
        assert_eq!(err.file, "vmlinuz-cut", "{format:?}: {err}");
        assert_eq!(err.offset, Some((PAYLOAD_AT + cut.len()) as u64), "{format:?}: {err}");
        assert!(err.cause.to_string().contains("truncated"), "{format:?}: {err}");
        assert!(err.to_string().starts_with(&format!("vmlinuz-cut: offset {:#x}: ", PAYLOAD_AT + cut.len())));
    }
}

#[test]
fn file_ending_inside_the_payload() {
    let img = fake_kernel(Compression::Xz);
    let short = &img[..PAYLOAD_AT + 10];
    let err = extract_btf("vmlinuz-short", short).unwrap_err();
    assert_eq!(err.offset, Some(0x248));
    assert!(err.cause.to_string().contains("past the end of the file"), "{err}");
    let err = extract_btf("vmlinuz-tiny", &img[..0x220]).unwrap_err();
    assert_eq!(err.offset, Some(0x220));
    assert!(err.cause.to_string().contains("inside the setup header"), "{err}");
}

#[test]
fn recorded_size_must_match() {
    let vmlinux = fake_vmlinux();
    let mut payload = compress(Compression::Zstd, &vmlinux);
    let end = PAYLOAD_AT + payload.len();
    payload.extend_from_slice(&(vmlinux.len() as u32 + 1).to_le_bytes());
    let err = extract_btf("vmlinuz-size", &fake_bzimage(&payload)).unwrap_err();
    assert_eq!(err.offset, Some(end as u64));
    assert_eq!(
        err.cause.to_string(),
        format!("zstd payload decompressed to {} bytes, the bzImage records {}", vmlinux.len(), vmlinux.len() + 1)
    );
}

#[test]
fn setup_header_errors() {
    let mut old = fake_kernel(Compression::Gzip);
    old[0x206..0x208].copy_from_slice(&0x0206u16.to_le_bytes());
    let err = extract_btf("vmlinuz-old", &old).unwrap_err();
    assert_eq!(err.offset, Some(0x206));
    assert!(err.cause.to_string().contains("boot protocol 2.06"), "{err}");
    assert!(matches!(err.cause, Cause::BzImage(BzImageError::OldProtocol { protocol: 0x206 })), "{err:?}");

    let lzo = fake_bzimage(&[0x89, b'L', b'Z', b'O', 0, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]);
    let err = extract_btf("vmlinuz-lzo", &lzo).unwrap_err();
    assert_eq!(err.offset, Some(PAYLOAD_AT as u64));
    assert!(err.cause.to_string().starts_with("payload starts with 894c5a4f000d"), "{err}");

    let err = extract_btf("notes.txt", b"just some text, long enough").unwrap_err();
    assert_eq!(err.offset, Some(0));
    assert!(err.cause.to_string().contains("not a bzImage, an ELF file"), "{err}");
}

#[test]
fn decompressed_data_that_is_not_elf() {
    let err = extract_btf("x.ko.gz", &compress(Compression::Gzip, b"not an elf file at all")).unwrap_err();
    assert_eq!(err.file, "x.ko.gz (decompressed ELF)");
    assert_eq!(err.offset, Some(0));
    assert!(err.cause.to_string().starts_with("not an ELF file"), "{err}");
}

#[test]
fn bad_btf_section_header() {
    let mut btf = tiny_btf();
    btf[0] = 0x9e;
    let elf = fake_elf(ET_REL, &[(".text", &[0; 8]), (".BTF", &btf)]);
    let section_at = 64 + 8; // after the ELF header and .text
    let err = extract_btf("bad.ko", &elf).unwrap_err();
    assert_eq!(err.offset, Some(section_at));
    assert!(err.cause.to_string().contains("bad BTF magic 0xeb9e"), "{err}");
    assert!(matches!(err.cause, Cause::Elf(ElfError::BtfHeader(BtfHeaderError::Magic { magic: 0xeb9e, .. }))), "{err:?}");

    let mut btf = tiny_btf();
    btf[20..24].copy_from_slice(&1000u32.to_le_bytes()); // str_len
    let elf = fake_elf(ET_REL, &[(".text", &[0; 8]), (".BTF", &btf)]);
    let err = extract_btf("bad2.ko", &elf).unwrap_err();
    assert_eq!(err.offset, Some(section_at + 16));
    assert!(err.cause.to_string().contains("string section (1000 bytes"), "{err}");
}

#[test]
fn lz4_legacy_several_blocks_and_concatenated_frames() {
    // 9 MiB of section data: two 8 MiB blocks.
    let big: Vec<u8> = (0..9u32 << 20).map(|i| (i % 251) as u8 ^ (i >> 16) as u8).collect();
    let vmlinux = fake_elf(ET_EXEC, &[(".data", &big), (".BTF", &tiny_btf())]);
    let ex = extract_btf("vmlinuz-lz4", &fake_bzimage(&kernel_payload(Compression::Lz4Legacy, &vmlinux))).unwrap();
    assert_tiny_btf(&ex.btf.unwrap());

    let (a, b) = vmlinux.split_at(8 << 20);
    let mut payload = lz4_legacy(a);
    payload.extend_from_slice(&lz4_legacy(b));
    payload.extend_from_slice(&(vmlinux.len() as u32).to_le_bytes());
    let ex = extract_btf("vmlinuz-lz4cat", &fake_bzimage(&payload)).unwrap();
    assert_tiny_btf(&ex.btf.unwrap());
}

#[test]
fn lz4_legacy_block_size_out_of_range() {
    let mut payload = 0x184c_2102u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&0x7fff_0000u32.to_le_bytes());
    payload.extend_from_slice(&[0; 32]);
    payload.extend_from_slice(&100u32.to_le_bytes());
    let err = extract_btf("vmlinuz-lz4bad", &fake_bzimage(&payload)).unwrap_err();
    assert_eq!(err.offset, Some(PAYLOAD_AT as u64 + 4));
    assert!(err.cause.to_string().contains("claims 2147418112 bytes"), "{err}");
}

/// Every truncation and many byte flips of every format: an error that
/// names the file, or (a flip in a spot that does not matter) the right
/// BTF; never a panic, never wrong BTF.
#[test]
fn damaged_inputs_fail_cleanly() {
    let mut inputs: Vec<(String, Vec<u8>)> = KERNEL_FORMATS.iter().map(|f| (format!("vmlinuz-{}", f.name()), fake_kernel(*f))).collect();
    let ko = fake_module();
    inputs.push(("m.ko.xz".into(), xz(&ko, false)));
    inputs.push(("m.ko.zst".into(), compress(Compression::Zstd, &ko)));
    inputs.push(("m.ko".into(), ko));
    let mut errors = 0;
    for (name, good) in &inputs {
        let mut check = |bytes: &[u8]| match extract_btf(name, bytes) {
            Ok(ex) => {
                if let Some(btf) = ex.btf {
                    // A damaged image may still yield BTF only if the BTF
                    // itself is intact (a flip in .text, say).
                    assert!(btf == tiny_btf() || bpfld_extract::elf_btf::check_header(name, &btf, 0).is_ok());
                }
            }
            Err(e) => {
                assert!(e.file.starts_with(name.as_str()), "{e}");
                errors += 1;
            }
        };
        let step = (good.len() / 150).max(1);
        for cut in (0..good.len()).step_by(step) {
            check(&good[..cut]);
        }
        for at in (0..good.len()).step_by(step) {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            check(&bad);
        }
    }
    assert!(errors > 1000, "only {errors} damaged inputs were rejected");
}

#[test]
fn zstd_content_checksum_is_checked() {
    let mut zst = compress(Compression::Zstd, &fake_module());
    assert_eq!(zst[4] & 0x04, 0x04, "the frame carries a content checksum");
    let last = zst.len() - 1;
    zst[last] ^= 0x01;
    let err = extract_btf("m.ko.zst", &zst).unwrap_err();
    assert!(err.cause.to_string().starts_with("corrupt zstd data"), "{err}");
    assert!(err.cause.to_string().contains("content checksum"), "{err}");
    // file -> cause -> the decoder's error -> the io::Error it returned.
    let decode = err.source().and_then(|c| c.source()).and_then(|e| e.downcast_ref::<DecodeError>()).expect("DecodeError source");
    assert!(matches!(decode.kind, DecodeErrorKind::Corrupt { .. }) && decode.format == Compression::Zstd, "{decode:?}");
    let io = decode.source().and_then(|e| e.downcast_ref::<std::io::Error>()).expect("io::Error source");
    assert!(io.to_string().contains("content checksum"), "{io}");
}

#[test]
fn signed_module() {
    // sign-file appends the PKCS#7 signature, a struct module_signature
    // and a magic string after the ELF file.
    let mut ko = fake_module();
    ko.extend_from_slice(&[0x30, 0x82, 0x01, 0x00]);
    ko.extend_from_slice(&[0xab; 256]);
    ko.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4]);
    ko.extend_from_slice(b"~Module signature appended~\n");
    let ex = extract_btf("signed.ko.xz", &xz(&ko, false)).unwrap();
    assert_eq!(ex.kind, ElfKind::Module);
    assert_tiny_btf(&ex.btf.unwrap());
}
