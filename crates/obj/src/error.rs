//! Errors of opening and planning an object. Each names where the problem
//! is (object, section, symbol, offset) and reads "context: cause".

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub object: String,
    /// Context from outermost to innermost: "section 'xdp'", "symbol 'x'",
    /// "insn 12", "offset 0x60".
    pub context: Vec<String>,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(object: &str, message: impl Into<String>) -> Error {
        Error { object: object.to_string(), context: Vec::new(), message: message.into() }
    }
    pub fn ctx(mut self, c: impl Into<String>) -> Error {
        self.context.push(c.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.object)?;
        for c in &self.context {
            write!(f, ": {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}

/// Builds errors for one object with a fixed context prefix.
#[derive(Clone)]
pub(crate) struct Ctx<'a> {
    pub object: &'a str,
    pub context: Vec<String>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(object: &'a str) -> Self {
        Ctx { object, context: Vec::new() }
    }
    pub(crate) fn with(&self, c: impl Into<String>) -> Self {
        let mut n = self.clone();
        n.context.push(c.into());
        n
    }
    pub(crate) fn err(&self, message: impl Into<String>) -> Error {
        Error { object: self.object.to_string(), context: self.context.clone(), message: message.into() }
    }
}
