//! TODO(owner): implement.

use super::dispatch::Ctx;
use super::Tpm;
use crate::rc::Rc;

pub(crate) fn startup(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn shutdown(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

/// Called at _TPM_Init.
pub(crate) fn on_power_on(_tpm: &mut Tpm) {}
