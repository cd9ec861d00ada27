//! Names of TPM commands for messages (Part 2 §6.5.2, spelled as Part 3
//! titles them).

use tpm::constants::cc;

/// `TPM2_NV_Read` for 0x14E; `TPM_CC 0x...` for a code Part 2 does not
/// define.
pub fn command_name(code: u32) -> String {
    known_name(code).map_or_else(|| format!("TPM_CC 0x{code:08x}"), str::to_string)
}

/// The Part 3 name of a command code, if it is one.
pub fn known_name(code: u32) -> Option<&'static str> {
    Some(match code {
        cc::NV_UNDEFINE_SPACE_SPECIAL => "TPM2_NV_UndefineSpaceSpecial",
        cc::EVICT_CONTROL => "TPM2_EvictControl",
        cc::HIERARCHY_CONTROL => "TPM2_HierarchyControl",
        cc::NV_UNDEFINE_SPACE => "TPM2_NV_UndefineSpace",
        cc::CHANGE_EPS => "TPM2_ChangeEPS",
        cc::CHANGE_PPS => "TPM2_ChangePPS",
        cc::CLEAR => "TPM2_Clear",
        cc::CLEAR_CONTROL => "TPM2_ClearControl",
        cc::CLOCK_SET => "TPM2_ClockSet",
        cc::HIERARCHY_CHANGE_AUTH => "TPM2_HierarchyChangeAuth",
        cc::NV_DEFINE_SPACE => "TPM2_NV_DefineSpace",
        cc::PCR_ALLOCATE => "TPM2_PCR_Allocate",
        cc::PCR_SET_AUTH_POLICY => "TPM2_PCR_SetAuthPolicy",
        cc::PP_COMMANDS => "TPM2_PP_Commands",
        cc::SET_PRIMARY_POLICY => "TPM2_SetPrimaryPolicy",
        cc::FIELD_UPGRADE_START => "TPM2_FieldUpgradeStart",
        cc::CLOCK_RATE_ADJUST => "TPM2_ClockRateAdjust",
        cc::CREATE_PRIMARY => "TPM2_CreatePrimary",
        cc::NV_GLOBAL_WRITE_LOCK => "TPM2_NV_GlobalWriteLock",
        cc::GET_COMMAND_AUDIT_DIGEST => "TPM2_GetCommandAuditDigest",
        cc::NV_INCREMENT => "TPM2_NV_Increment",
        cc::NV_SET_BITS => "TPM2_NV_SetBits",
        cc::NV_EXTEND => "TPM2_NV_Extend",
        cc::NV_WRITE => "TPM2_NV_Write",
        cc::NV_WRITE_LOCK => "TPM2_NV_WriteLock",
        cc::DICTIONARY_ATTACK_LOCK_RESET => "TPM2_DictionaryAttackLockReset",
        cc::DICTIONARY_ATTACK_PARAMETERS => "TPM2_DictionaryAttackParameters",
        cc::NV_CHANGE_AUTH => "TPM2_NV_ChangeAuth",
        cc::PCR_EVENT => "TPM2_PCR_Event",
        cc::PCR_RESET => "TPM2_PCR_Reset",
        cc::SEQUENCE_COMPLETE => "TPM2_SequenceComplete",
        cc::SET_ALGORITHM_SET => "TPM2_SetAlgorithmSet",
        cc::SET_COMMAND_CODE_AUDIT_STATUS => "TPM2_SetCommandCodeAuditStatus",
        cc::FIELD_UPGRADE_DATA => "TPM2_FieldUpgradeData",
        cc::INCREMENTAL_SELF_TEST => "TPM2_IncrementalSelfTest",
        cc::SELF_TEST => "TPM2_SelfTest",
        cc::STARTUP => "TPM2_Startup",
        cc::SHUTDOWN => "TPM2_Shutdown",
        cc::STIR_RANDOM => "TPM2_StirRandom",
        cc::ACTIVATE_CREDENTIAL => "TPM2_ActivateCredential",
        cc::CERTIFY => "TPM2_Certify",
        cc::POLICY_NV => "TPM2_PolicyNV",
        cc::CERTIFY_CREATION => "TPM2_CertifyCreation",
        cc::DUPLICATE => "TPM2_Duplicate",
        cc::GET_TIME => "TPM2_GetTime",
        cc::GET_SESSION_AUDIT_DIGEST => "TPM2_GetSessionAuditDigest",
        cc::NV_READ => "TPM2_NV_Read",
        cc::NV_READ_LOCK => "TPM2_NV_ReadLock",
        cc::OBJECT_CHANGE_AUTH => "TPM2_ObjectChangeAuth",
        cc::POLICY_SECRET => "TPM2_PolicySecret",
        cc::REWRAP => "TPM2_Rewrap",
        cc::CREATE => "TPM2_Create",
        cc::ECDH_ZGEN => "TPM2_ECDH_ZGen",
        cc::HMAC => "TPM2_HMAC",
        cc::IMPORT => "TPM2_Import",
        cc::LOAD => "TPM2_Load",
        cc::QUOTE => "TPM2_Quote",
        cc::RSA_DECRYPT => "TPM2_RSA_Decrypt",
        cc::HMAC_START => "TPM2_HMAC_Start",
        cc::SEQUENCE_UPDATE => "TPM2_SequenceUpdate",
        cc::SIGN => "TPM2_Sign",
        cc::UNSEAL => "TPM2_Unseal",
        cc::POLICY_SIGNED => "TPM2_PolicySigned",
        cc::CONTEXT_LOAD => "TPM2_ContextLoad",
        cc::CONTEXT_SAVE => "TPM2_ContextSave",
        cc::ECDH_KEY_GEN => "TPM2_ECDH_KeyGen",
        cc::ENCRYPT_DECRYPT => "TPM2_EncryptDecrypt",
        cc::FLUSH_CONTEXT => "TPM2_FlushContext",
        cc::LOAD_EXTERNAL => "TPM2_LoadExternal",
        cc::MAKE_CREDENTIAL => "TPM2_MakeCredential",
        cc::NV_READ_PUBLIC => "TPM2_NV_ReadPublic",
        cc::POLICY_AUTHORIZE => "TPM2_PolicyAuthorize",
        cc::POLICY_AUTH_VALUE => "TPM2_PolicyAuthValue",
        cc::POLICY_COMMAND_CODE => "TPM2_PolicyCommandCode",
        cc::POLICY_COUNTER_TIMER => "TPM2_PolicyCounterTimer",
        cc::POLICY_CP_HASH => "TPM2_PolicyCpHash",
        cc::POLICY_LOCALITY => "TPM2_PolicyLocality",
        cc::POLICY_NAME_HASH => "TPM2_PolicyNameHash",
        cc::POLICY_OR => "TPM2_PolicyOR",
        cc::POLICY_TICKET => "TPM2_PolicyTicket",
        cc::READ_PUBLIC => "TPM2_ReadPublic",
        cc::RSA_ENCRYPT => "TPM2_RSA_Encrypt",
        cc::START_AUTH_SESSION => "TPM2_StartAuthSession",
        cc::VERIFY_SIGNATURE => "TPM2_VerifySignature",
        cc::ECC_PARAMETERS => "TPM2_ECC_Parameters",
        cc::FIRMWARE_READ => "TPM2_FirmwareRead",
        cc::GET_CAPABILITY => "TPM2_GetCapability",
        cc::GET_RANDOM => "TPM2_GetRandom",
        cc::GET_TEST_RESULT => "TPM2_GetTestResult",
        cc::HASH => "TPM2_Hash",
        cc::PCR_READ => "TPM2_PCR_Read",
        cc::POLICY_PCR => "TPM2_PolicyPCR",
        cc::POLICY_RESTART => "TPM2_PolicyRestart",
        cc::READ_CLOCK => "TPM2_ReadClock",
        cc::PCR_EXTEND => "TPM2_PCR_Extend",
        cc::PCR_SET_AUTH_VALUE => "TPM2_PCR_SetAuthValue",
        cc::NV_CERTIFY => "TPM2_NV_Certify",
        cc::EVENT_SEQUENCE_COMPLETE => "TPM2_EventSequenceComplete",
        cc::HASH_SEQUENCE_START => "TPM2_HashSequenceStart",
        cc::POLICY_PHYSICAL_PRESENCE => "TPM2_PolicyPhysicalPresence",
        cc::POLICY_DUPLICATION_SELECT => "TPM2_PolicyDuplicationSelect",
        cc::POLICY_GET_DIGEST => "TPM2_PolicyGetDigest",
        cc::TEST_PARMS => "TPM2_TestParms",
        cc::COMMIT => "TPM2_Commit",
        cc::POLICY_PASSWORD => "TPM2_PolicyPassword",
        cc::ZGEN_2PHASE => "TPM2_ZGen_2Phase",
        cc::EC_EPHEMERAL => "TPM2_EC_Ephemeral",
        cc::POLICY_NV_WRITTEN => "TPM2_PolicyNVWritten",
        cc::POLICY_TEMPLATE => "TPM2_PolicyTemplate",
        cc::CREATE_LOADED => "TPM2_CreateLoaded",
        cc::POLICY_AUTHORIZE_NV => "TPM2_PolicyAuthorizeNV",
        cc::ENCRYPT_DECRYPT2 => "TPM2_EncryptDecrypt2",
        cc::AC_GET_CAPABILITY => "TPM2_AC_GetCapability",
        cc::AC_SEND => "TPM2_AC_Send",
        cc::POLICY_AC_SEND_SELECT => "TPM2_Policy_AC_SendSelect",
        cc::CERTIFY_X509 => "TPM2_CertifyX509",
        cc::ACT_SET_TIMEOUT => "TPM2_ACT_SetTimeout",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(command_name(cc::NV_READ), "TPM2_NV_Read");
        assert_eq!(command_name(cc::CREATE_PRIMARY), "TPM2_CreatePrimary");
        assert_eq!(command_name(cc::PCR_READ), "TPM2_PCR_Read");
        assert_eq!(command_name(cc::POLICY_OR), "TPM2_PolicyOR");
        assert_eq!(command_name(0x1234), "TPM_CC 0x00001234");
    }
}
