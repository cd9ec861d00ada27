//! One command on its way to the TPM, and the parameters of its response
//! (Part 1 §18: header, handle area, authorization area, parameters).
//!
//! A helper describes its command with [`Command`] (code, handles with
//! their authorizations, marshalled parameters, whether the response has a
//! handle and whether the first parameters may be session-encrypted);
//! [`crate::Tpm`] frames it, runs the sessions and hands the response
//! parameters back as an [`Out`] that decodes them with the wire types and
//! requires that nothing is left over.

use tpm::wire::{Codec, Reader};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::session::Auth;

/// A command to run.
#[derive(Debug)]
pub(crate) struct Command {
    pub code: u32,
    pub handles: Vec<u32>,
    /// `auths[i]` authorizes `handles[i]`; the authorized handles come
    /// first in every command that has them (Part 3 command tables).
    pub auths: Vec<Auth>,
    /// Marshalled parameters; they may hold secrets (new authValues,
    /// sealed data), so they are wiped on drop.
    pub params: Zeroizing<Vec<u8>>,
    /// The response has a handle area (one handle).
    pub response_handle: bool,
    /// The first command parameter is a TPM2B a session may encrypt.
    pub decrypt: bool,
    /// The first response parameter is a TPM2B a session may encrypt.
    pub encrypt: bool,
}

impl Command {
    pub fn new(code: u32) -> Self {
        Command {
            code,
            handles: Vec::new(),
            auths: Vec::new(),
            params: Zeroizing::new(Vec::new()),
            response_handle: false,
            decrypt: false,
            encrypt: false,
        }
    }

    /// A handle that needs authorization. Must come before any handle
    /// without one.
    pub fn auth_handle(mut self, handle: u32, auth: &Auth) -> Self {
        debug_assert_eq!(self.handles.len(), self.auths.len());
        self.handles.push(handle);
        self.auths.push(auth.clone());
        self
    }

    /// A handle without authorization.
    pub fn handle(mut self, handle: u32) -> Self {
        self.handles.push(handle);
        self
    }

    /// Appends one marshalled parameter.
    pub fn param<T: Codec>(mut self, v: &T) -> Self {
        v.encode(&mut self.params);
        self
    }

    pub fn returns_handle(mut self) -> Self {
        self.response_handle = true;
        self
    }

    /// The command's first parameter and first response parameter are
    /// TPM2Bs that sessions may encrypt (Part 1 §21.1).
    pub fn crypt(mut self, decrypt: bool, encrypt: bool) -> Self {
        self.decrypt = decrypt;
        self.encrypt = encrypt;
        self
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Response {
    pub code: u32,
    pub handle: Option<u32>,
    /// The response parameters (decrypted); may hold secrets.
    pub params: Zeroizing<Vec<u8>>,
}

impl Response {
    /// A decoder over the response parameters.
    pub fn out(&self) -> Out<'_> {
        Out {
            r: Reader::new(&self.params),
            code: self.code,
        }
    }

    /// The response handle, which a `returns_handle` command always has.
    pub fn handle(&self) -> Result<u32> {
        self.handle
            .ok_or_else(|| Error::malformed(self.code, "no response handle"))
    }
}

/// Decodes response parameters in order.
pub(crate) struct Out<'a> {
    r: Reader<'a>,
    code: u32,
}

impl Out<'_> {
    pub fn read<T: Codec>(&mut self) -> Result<T> {
        T::decode(&mut self.r).map_err(|e| Error::malformed(self.code, e))
    }

    /// Requires that every parameter octet was consumed.
    pub fn finish(self) -> Result<()> {
        if self.r.is_empty() {
            Ok(())
        } else {
            Err(Error::malformed(
                self.code,
                format!("{} unexpected trailing octets", self.r.remaining()),
            ))
        }
    }
}
