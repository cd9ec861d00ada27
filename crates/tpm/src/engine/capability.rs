//! TODO(owner): implement.

use super::dispatch::Ctx;
use super::Tpm;
use crate::rc::Rc;

pub(crate) fn get_capability(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}
