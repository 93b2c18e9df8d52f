//! Symbol lookup in an ELF binary against the running process: the file
//! offset found for a function of this test binary is where the kernel
//! maps it from. (An integration test: the `#[no_mangle]` target function
//! cannot live in the library, which forbids unsafe code.)

use bpfld::elf_symbols::{func_file_offset, SymbolError};

/// The file offset the kernel sees for `addr` of this process: from
/// the mapping of the executable that contains it.
fn file_offset_of(addr: u64) -> u64 {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for l in maps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (start, end) = f[0].split_once('-').unwrap();
        let (start, end) = (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        if (start..end).contains(&addr) {
            return addr - start + u64::from_str_radix(f[2], 16).unwrap();
        }
    }
    panic!("{addr:#x} is not mapped");
}

#[test]
fn finds_a_function_of_this_test_binary() {
    // Where the function is mapped from is where the symbol says.
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let off = func_file_offset(&exe, "bpfld_elf_symbols_test_target").unwrap();
    let addr = bpfld_elf_symbols_test_target as *const () as u64;
    assert_eq!(off, file_offset_of(addr));
    assert_eq!(bpfld_elf_symbols_test_target(0), 0);
    let e = func_file_offset(&exe, "no_such_function_anywhere").unwrap_err();
    assert!(e.to_string().contains("failed to find symbol 'no_such_function_anywhere'"), "{e}");
    assert!(matches!(&e, SymbolError::NoSymbol { name, path } if name == "no_such_function_anywhere" && *path == exe), "{e:?}");
    // A file that is not there: the io::Error is the source.
    let e = func_file_offset(std::path::Path::new("/nonexistent/bpfld-binary"), "main").unwrap_err();
    assert!(matches!(e, SymbolError::Open { .. }), "{e:?}");
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>()).expect("io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[no_mangle]
#[inline(never)]
extern "C" fn bpfld_elf_symbols_test_target(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
}
