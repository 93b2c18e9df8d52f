//! Synthetic inputs built the way the kernel build and Debian build them:
//! a small BTF blob, ELF files around it, compressed payloads with the
//! kernel's appended size, bzImage setup headers, and `.deb` packages.
#![allow(dead_code)]

use std::io::Write;
use std::sync::Arc;

use bpfld_extract::Compression;

/// A valid BTF blob: `int` and `struct pair { int a; int b; }`.
pub fn tiny_btf() -> Vec<u8> {
    let strings = b"\0int\0pair\0a\0b\0";
    let mut types = Vec::new();
    let w = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    // [1] INT 'int' size=4 bits=32 signed
    w(&mut types, 1);
    w(&mut types, 1 << 24);
    w(&mut types, 4);
    w(&mut types, (1 << 24) | 32);
    // [2] STRUCT 'pair' size=8 vlen=2
    w(&mut types, 5);
    w(&mut types, (4 << 24) | 2);
    w(&mut types, 8);
    for (name, bit_off) in [(10u32, 0u32), (12, 32)] {
        w(&mut types, name);
        w(&mut types, 1);
        w(&mut types, bit_off);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_le_bytes());
    out.push(1); // version
    out.push(0); // flags
    w(&mut out, 24); // hdr_len
    w(&mut out, 0); // type_off
    w(&mut out, types.len() as u32);
    w(&mut out, types.len() as u32); // str_off
    w(&mut out, strings.len() as u32);
    out.extend_from_slice(&types);
    out.extend_from_slice(strings);
    out
}

/// Checks `btf` is `tiny_btf()` as bpfld-btf reads it: `struct pair` is
/// 8 bytes with two members.
pub fn assert_tiny_btf(btf: &[u8]) {
    assert_eq!(btf, tiny_btf().as_slice());
    let parsed = bpfld_btf::Btf::parse(Arc::new(btf.to_vec())).expect("extracted BTF parses");
    let ids = parsed.find("pair", None);
    assert_eq!(ids.len(), 1, "one 'pair' type");
    let t = parsed.type_by_id(ids[0]).expect("type");
    assert_eq!(t.size(), Some(8));
    assert_eq!(t.members().len(), 2);
}

pub const ET_REL: u16 = 1;
pub const ET_EXEC: u16 = 2;

/// A little-endian x86-64 ELF file of type `e_type` with `sections`
/// (name, contents), laid out like linkers do: header, section data,
/// `.shstrtab`, section headers.
pub fn fake_elf(e_type: u16, sections: &[(&str, &[u8])]) -> Vec<u8> {
    let mut data = vec![0u8; 64];
    let mut shstrtab = vec![0u8];
    let mut headers = Vec::new(); // (name_off, type, offset, size)
    for (name, contents) in sections {
        while !data.len().is_multiple_of(8) {
            data.push(0);
        }
        headers.push((shstrtab.len() as u32, 1u32, data.len() as u64, contents.len() as u64));
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
        data.extend_from_slice(contents);
    }
    let shstr_name = shstrtab.len() as u32;
    shstrtab.extend_from_slice(b".shstrtab\0");
    headers.push((shstr_name, 3, data.len() as u64, shstrtab.len() as u64));
    data.extend_from_slice(&shstrtab);
    while !data.len().is_multiple_of(8) {
        data.push(0);
    }
    let shoff = data.len() as u64;
    data.extend_from_slice(&[0u8; 64]); // SHN_UNDEF
    for (name, ty, off, size) in &headers {
        data.extend_from_slice(&name.to_le_bytes());
        data.extend_from_slice(&ty.to_le_bytes());
        data.extend_from_slice(&0u64.to_le_bytes()); // flags
        data.extend_from_slice(&0u64.to_le_bytes()); // addr
        data.extend_from_slice(&off.to_le_bytes());
        data.extend_from_slice(&size.to_le_bytes());
        data.extend_from_slice(&[0u8; 8]); // link, info
        data.extend_from_slice(&1u64.to_le_bytes()); // addralign
        data.extend_from_slice(&0u64.to_le_bytes()); // entsize
    }
    let h = &mut data[..64];
    h[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1]);
    h[16..18].copy_from_slice(&e_type.to_le_bytes());
    h[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..48].copy_from_slice(&shoff.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    h[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    h[58..60].copy_from_slice(&64u16.to_le_bytes()); // shentsize
    h[60..62].copy_from_slice(&(headers.len() as u16 + 1).to_le_bytes());
    h[62..64].copy_from_slice(&(headers.len() as u16).to_le_bytes()); // shstrndx
    data
}

/// Code with relative calls (`e8 rel32`), which the x86 BCJ filter
/// rewrites: decoding it back needs the filter.
pub fn fake_text() -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0u32..64 {
        t.push(0xe8);
        t.extend_from_slice(&(0x1000 - i * 5).to_le_bytes());
        t.extend_from_slice(&[0x48, 0x89, 0xc7, 0x90]);
    }
    t
}

/// A vmlinux: `.text` and `.BTF` (ET_EXEC).
pub fn fake_vmlinux() -> Vec<u8> {
    fake_elf(ET_EXEC, &[(".text", &fake_text()), (".BTF", &tiny_btf())])
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("bpfld-extract-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A module: `.text` and `.BTF` (ET_REL).
pub fn fake_module() -> Vec<u8> {
    fake_elf(ET_REL, &[(".text", &[0xcc; 100]), (".BTF", &tiny_btf()), (".modinfo", b"license=GPL\0")])
}

/// Legacy lz4 frame as `lz4 -l` writes it: magic, then independent blocks
/// of up to 8 MiB, each behind its compressed size.
pub fn lz4_legacy(data: &[u8]) -> Vec<u8> {
    let mut out = 0x184c_2102u32.to_le_bytes().to_vec();
    for chunk in data.chunks(8 << 20) {
        let block = lz4_flex::block::compress(chunk);
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
        out.extend_from_slice(&block);
    }
    out
}

/// `data` compressed as the kernel build compresses vmlinux.bin (xz with
/// the x86 BCJ filter and CRC32, as scripts/xz_wrap.sh does).
pub fn compress(format: Compression, data: &[u8]) -> Vec<u8> {
    match format {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => xz(data, true),
        Compression::Zstd => ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest),
        Compression::Lz4Legacy => lz4_legacy(data),
        Compression::Lz4Frame => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Lzma => {
            let opts = lzma_rust2::LzmaOptions::with_preset(6);
            let mut w = lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &opts, None).unwrap();
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
    }
}

/// xz with CRC32, with or without the x86 BCJ filter.
pub fn xz(data: &[u8], bcj_x86: bool) -> Vec<u8> {
    let mut opts = lzma_rust2::XzOptions::with_preset(6);
    opts.set_check_sum_type(lzma_rust2::CheckType::Crc32);
    if bcj_x86 {
        opts.prepend_pre_filter(lzma_rust2::FilterType::BcjX86, 0);
    }
    let mut w = lzma_rust2::XzWriter::new(Vec::new(), opts).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// The kernel build's payload: compressed data followed by the
/// decompressed size (gzip's own trailer already ends with it).
pub fn kernel_payload(format: Compression, data: &[u8]) -> Vec<u8> {
    let mut p = compress(format, data);
    if format != Compression::Gzip {
        p.extend_from_slice(&(data.len() as u32).to_le_bytes());
    }
    p
}

pub const VERSION: &str = "6.99.0-7-amd64 (builder@example.org) #1 SMP PREEMPT_DYNAMIC Debian 6.99.0-7";
/// Where `fake_bzimage` puts the payload: after 2 setup sectors + boot
/// sector (0x600) and 0x80 bytes of decompressor code.
pub const PAYLOAD_AT: usize = 0x680;

/// A bzImage (boot protocol 2.15) around `payload`, with 0x40 bytes of
/// code and data after the payload as a real image has.
pub fn fake_bzimage(payload: &[u8]) -> Vec<u8> {
    let mut img = vec![0u8; PAYLOAD_AT];
    img[0x1f1] = 2; // setup_sects
    img[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    // kernel_version: offset - 0x200 of a NUL-terminated string.
    img[0x20e..0x210].copy_from_slice(&(0x300u16 - 0x200).to_le_bytes());
    img[0x300..0x300 + VERSION.len()].copy_from_slice(VERSION.as_bytes());
    let pm_start = 3 * 512;
    img[0x248..0x24c].copy_from_slice(&((PAYLOAD_AT - pm_start) as u32).to_le_bytes());
    img[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    img.extend_from_slice(payload);
    img.extend_from_slice(&[0xe8; 0x40]);
    img
}

/// A bzImage of `fake_vmlinux()` (followed by relocation data, as the
/// kernel's vmlinux.bin is) compressed with `format`.
pub fn fake_kernel(format: Compression) -> Vec<u8> {
    let mut vmlinux_bin = fake_vmlinux();
    vmlinux_bin.extend_from_slice(&[0u8, 0, 0, 0, 0x10, 0x20, 0x30, 0x40]); // vmlinux.relocs
    fake_bzimage(&kernel_payload(format, &vmlinux_bin))
}

/// A tar stream of regular files (`./`-prefixed, as dpkg-deb writes).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, format!("./{path}"), *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A `.deb` (ar: debian-binary, control.tar.xz, data.tar.<ext>) whose data
/// holds `files`; `data_format` None stores data.tar uncompressed.
pub fn fake_deb(data_format: Option<Compression>, files: &[(&str, &[u8])]) -> Vec<u8> {
    let data = tar_of(files);
    let (name, data) = match data_format {
        None => ("data.tar".to_string(), data),
        Some(Compression::Xz) => ("data.tar.xz".to_string(), xz(&data, false)),
        Some(Compression::Zstd) => ("data.tar.zst".to_string(), compress(Compression::Zstd, &data)),
        Some(Compression::Gzip) => ("data.tar.gz".to_string(), compress(Compression::Gzip, &data)),
        Some(f) => panic!("no .deb with data.tar in {f:?}"),
    };
    let control = xz(&tar_of(&[("control", b"Package: linux-image-test\n")]), false);
    let mut ar = ar::Builder::new(Vec::new());
    for (n, d) in [("debian-binary", b"2.0\n".to_vec()), ("control.tar.xz", control), (name.as_str(), data)] {
        let h = ar::Header::new(n.as_bytes().to_vec(), d.len() as u64);
        ar.append(&h, d.as_slice()).unwrap();
    }
    ar.into_inner().unwrap()
}
