//! A libbpf object owned by a test, and the C strings libbpf's calls take.
//! Shared by the differential tests through `mod common;` and by the
//! standalone ones through `#[path = "common/libbpf_object.rs"]`.

use std::ffi::CString;

/// A libbpf object (from `bpf_object__open_file`), closed on drop.
pub struct LibObj(pub *mut libbpf_sys::bpf_object);

impl Drop for LibObj {
    fn drop(&mut self) {
        // SAFETY: a pointer from bpf_object__open_file, closed once.
        unsafe { libbpf_sys::bpf_object__close(self.0) }
    }
}

/// `s` as a C string (test strings have no NUL).
pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}
