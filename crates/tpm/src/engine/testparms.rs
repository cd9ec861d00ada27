//! TPM2_TestParms (Part 3 §10.5): tells a caller whether the TPM supports
//! a set of public-area algorithm parameters, without creating anything.
//!
//! As in the reference implementation, the whole check is the unmarshalling
//! of TPMT_PUBLIC_PARMS under this TPM's algorithm table: every TPMI_ field
//! accepts only implemented values and an unsupported one gets the code its
//! type defines (TPM_RC_TYPE, _SYMMETRIC, _VALUE, _MODE, _HASH, _SCHEME,
//! _CURVE, _KDF), numbered as parameter 1. Success has no response
//! parameters.

use super::algorithms::Implemented;
use super::dispatch::Ctx;
use super::Tpm;
use crate::rc::Rc;
use crate::types::PublicParms;

pub(crate) fn test_parms(_tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let _parms = ctx.read_with(|r| PublicParms::decode_with(r, &Implemented))?;
    ctx.done()
}
