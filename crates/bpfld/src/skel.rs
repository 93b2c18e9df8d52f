//! Support for generated skeletons (`bpfld gen skeleton`, `bpfld-build`):
//! plain values read from and written to the bytes of global data
//! sections, with no `unsafe` in the generated code.
//!
//! A skeleton's section structs are `#[repr(C)]` with explicit padding, so
//! their layout is the section's (the skeleton asserts it at compile
//! time); they still move in and out of the section field by field through
//! [`Plain`], which is safe whatever the bytes hold.

use crate::error::{Error, GlobalProblem, Result};
use crate::object::{LoadedObject, OpenObject};

/// A value with a fixed byte layout, made of integers, floats, arrays and
/// other `Plain` values. Implemented for the primitive types and arrays;
/// skeletons implement it for the structs they generate.
pub trait Plain: Copy {
    /// Size in bytes (`size_of::<Self>()`).
    const SIZE: usize;
    /// Reads the value from the first [`Self::SIZE`] bytes of `b` (native
    /// byte order).
    fn read(b: &[u8]) -> Self;
    /// Writes the value into the first [`Self::SIZE`] bytes of `b`.
    fn write(&self, b: &mut [u8]);
}

macro_rules! plain_number {
    ($($t:ty),*) => {$(
        impl Plain for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_ne_bytes(a)
            }
            fn write(&self, b: &mut [u8]) {
                b[..Self::SIZE].copy_from_slice(&self.to_ne_bytes());
            }
        }
    )*};
}

plain_number!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

impl Plain for bool {
    const SIZE: usize = 1;
    fn read(b: &[u8]) -> Self {
        b[0] != 0
    }
    fn write(&self, b: &mut [u8]) {
        b[0] = *self as u8;
    }
}

impl<T: Plain, const N: usize> Plain for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn read(b: &[u8]) -> Self {
        std::array::from_fn(|i| T::read(&b[i * T::SIZE..]))
    }
    fn write(&self, b: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.write(&mut b[i * T::SIZE..]);
        }
    }
}

/// A value from bytes that must be exactly its size.
fn from_exact<T: Plain>(what: &str, bytes: &[u8]) -> Result<T> {
    if bytes.len() != T::SIZE {
        let problem = GlobalProblem::SkeletonSize { size: bytes.len(), rust: T::SIZE };
        return Err(Error::Global { object: None, name: what.to_string(), problem });
    }
    Ok(T::read(bytes))
}

fn to_bytes<T: Plain>(v: &T) -> Vec<u8> {
    let mut b = vec![0u8; T::SIZE];
    v.write(&mut b);
    b
}

/// The initial value of global variable `name` (`section:var`) before load.
pub fn initial<T: Plain>(obj: &OpenObject, name: &str) -> Result<T> {
    from_exact(name, &obj.global(name)?)
}

/// Sets the initial value of `name` before load.
pub fn set_initial<T: Plain>(obj: &mut OpenObject, name: &str, value: &T) -> Result<()> {
    obj.set_global(name, &to_bytes(value))
}

/// The current value of `name` after load (through the section's memory
/// mapping where the kernel maps it, else a map lookup).
pub fn read<T: Plain>(obj: &LoadedObject, name: &str) -> Result<T> {
    from_exact(name, &obj.read_global(name)?)
}

/// Writes `name` after load (`.data`, `.bss`; `.rodata` is frozen).
pub fn write<T: Plain>(obj: &mut LoadedObject, name: &str, value: &T) -> Result<()> {
    obj.write_global(name, &to_bytes(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut b = [0u8; 24];
        let v: [[u16; 3]; 2] = [[1, 2, 3], [4, 5, 0xffff]];
        v.write(&mut b);
        assert_eq!(<[[u16; 3]; 2]>::read(&b), v);
        assert_eq!(u16::read(&b[10..]), 0xffff);
        (-5i64).write(&mut b[16..]);
        assert_eq!(i64::read(&b[16..]), -5);
        assert!(bool::read(&[2]));
        assert_eq!(<[u8; 0]>::SIZE, 0);
    }
}
