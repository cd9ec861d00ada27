//! TODO(owner): implement.

use super::dispatch::Ctx;
use super::Tpm;
use crate::rc::Rc;

pub(crate) fn sequence_complete(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn sequence_update(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn event_sequence_complete(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) fn hash_sequence_start(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}

pub(crate) struct SequenceObject {
    pub auth: Vec<u8>,
}
