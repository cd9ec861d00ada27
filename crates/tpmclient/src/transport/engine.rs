//! This project's TPM engine in the same process: no I/O at all. Used by
//! tests, benchmarks and simulated agents, and by tools that drive a vTPM
//! they own.

use super::{check_command, Transport, TransportError};

/// A transport that executes commands on an owned engine instance.
pub struct EngineTransport {
    engine: tpm::Tpm,
}

impl EngineTransport {
    pub fn new(engine: tpm::Tpm) -> Self {
        EngineTransport { engine }
    }

    /// The engine, e.g. to read its state blob.
    pub fn engine(&self) -> &tpm::Tpm {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut tpm::Tpm {
        &mut self.engine
    }

    pub fn into_inner(self) -> tpm::Tpm {
        self.engine
    }
}

impl Transport for EngineTransport {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        check_command(command)?;
        Ok(self.engine.execute(locality, command))
    }

    fn endpoint(&self) -> String {
        "engine (in process)".into()
    }
}
