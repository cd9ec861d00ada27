//! TODO(owner): implement.

use super::dispatch::Ctx;
use super::Tpm;
use crate::rc::Rc;

pub(crate) fn pcr_allocate(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn pcr_event(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn pcr_reset(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn pcr_read(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn pcr_extend(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}
