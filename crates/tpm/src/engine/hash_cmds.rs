//! TODO(owner): implement.

use super::dispatch::Ctx;
use super::Tpm;
use crate::rc::Rc;

pub(crate) fn hash(_tpm: &mut Tpm, _ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    Err(Rc::COMMAND_CODE)
}
