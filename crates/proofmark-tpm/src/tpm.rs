//! [`Tpm`]: one connection to a TPM, for probing it and managing keys (create, import, load,
//! persist, list, evict).
//!
//! Every key we load is flushed before the method that loaded it returns, on error paths too;
//! only the storage primary stays loaded while a [`Tpm`] lives (one object slot, flushed on
//! drop), so a TPM without a resource manager (swtpm has 3 object slots) does not fill up.

use proofmark_types::{PersistentHandle, PublicKey, SignatureAlgorithm};
use tss_esapi::Context;
use tss_esapi::constants::{CapabilityType, PropertyTag};
use tss_esapi::handles::{KeyHandle, ObjectHandle, PersistentTpmHandle, TpmHandle};
use tss_esapi::interface_types::dynamic_handles::Persistent;
use tss_esapi::interface_types::resource_handles::{Hierarchy, Provision};
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{CapabilityData, Private, Public, PublicParameters};

use crate::auth::{AuthValue, KeyAuth};
use crate::error::{Result, TpmError, classify, classify_handle, classify_load};
use crate::keyfile::{KeyFile, StoredAuth};
use crate::tcti::Tcti;
use crate::template::{self, ParentTemplate};

/// What a TPM says about itself; see [`Tpm::info`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TpmInfo {
    /// The TCTI it answered on.
    pub tcti: String,
    /// The manufacturer's four-letter code (`TPM2_PT_MANUFACTURER`), e.g. `IBM`, `IFX`, `STM`.
    pub manufacturer: String,
    /// The vendor string (`TPM2_PT_VENDOR_STRING_1..4`), e.g. `SW   TPM`.
    pub vendor: String,
    /// The firmware version (`TPM2_PT_FIRMWARE_VERSION_1` and `_2`), as
    /// `major.minor.build.patch` from the four 16-bit halves.
    pub firmware_version: String,
    /// The raw `TPM2_PT_FIRMWARE_VERSION_1` and `_2` values; their meaning is vendor-specific
    /// (swtpm puts a date in the first).
    pub firmware_raw: (u32, u32),
    /// The TPM 2.0 specification revision, e.g. `1.64`.
    pub spec_revision: String,
    /// Which of our signature algorithms the TPM accepts key templates for
    /// (`TPM2_TestParms`).
    pub algorithms: Vec<SignatureAlgorithm>,
    /// Transient object slots (`TPM2_PT_HR_TRANSIENT_MIN`); 3 is the minimum a TPM may have.
    pub transient_slots: u32,
    /// Free persistent-object slots, at least (`TPM2_PT_HR_PERSISTENT_AVAIL`).
    pub persistent_slots_free: u32,
    /// Current dictionary-attack failure count (`TPM2_PT_LOCKOUT_COUNTER`).
    pub lockout_counter: u32,
    /// Failures before lockout (`TPM2_PT_MAX_AUTH_FAIL`).
    pub max_auth_fail: u32,
}

/// A connection to a TPM.
///
/// Holds one ESYS context, and keeps the last storage primary it used loaded (one object slot).
/// Without a resource manager (swtpm, `mssim`, `/dev/tpm0`) every client shares the TPM's few
/// object slots (3 on swtpm), and `/dev/tpm0` admits a single client: drop a `Tpm` you no
/// longer need.
#[derive(Debug)]
pub struct Tpm {
    tcti: Tcti,
    ctx: Context,
    /// The storage primary last used, kept loaded (one object slot) so that creating or
    /// checking several keys derives it once.
    primary: Option<(ParentTemplate, KeyHandle, Vec<u8>)>,
}

/// Connects and checks that a TPM answers.
pub(crate) fn open_context(tcti: &Tcti) -> Result<Context> {
    let no_tpm = |source: tss_esapi::Error| TpmError::NoTpm {
        tcti: tcti.to_string(),
        origin: tcti.origin(),
        reason: crate::error::connect_failure(&source),
    };
    let mut ctx = Context::new(tcti.name_conf()).map_err(no_tpm)?;
    // Context::new may succeed without any exchange (device TCTIs): ask for something.
    ctx.execute_without_session(|c| c.get_capability(CapabilityType::TpmProperties, 0x100, 1))
        .map_err(no_tpm)?;
    Ok(ctx)
}

/// Creates (re-derives) the storage primary and returns its handle and name. The caller flushes.
pub(crate) fn create_primary(
    ctx: &mut Context,
    tcti: &Tcti,
    parent: ParentTemplate,
) -> Result<(KeyHandle, Vec<u8>)> {
    let public = parent.public()?;
    let primary = ctx
        .execute_with_session(Some(AuthSession::Password), |c| {
            c.create_primary(Hierarchy::Owner, public, None, None, None, None)
        })
        .map_err(|e| classify("creating the storage primary key", tcti.as_str(), e))?;
    let handle = primary.key_handle;
    match ctx.tr_get_name(handle.into()) {
        Ok(name) => Ok((handle, name.value().to_vec())),
        Err(e) => {
            flush(ctx, handle.into());
            Err(classify("reading the primary key's name", tcti.as_str(), e))
        }
    }
}

/// Flushes a transient object; failures are ignored (the object dies with the connection).
pub(crate) fn flush(ctx: &mut Context, handle: ObjectHandle) {
    let _ = ctx.flush_context(handle);
}

/// Runs `f` with the storage primary loaded, flushing it afterwards whatever happens.
fn with_primary<T>(
    ctx: &mut Context,
    tcti: &Tcti,
    parent: ParentTemplate,
    f: impl FnOnce(&mut Context, KeyHandle, &[u8]) -> Result<T>,
) -> Result<T> {
    let (primary, name) = create_primary(ctx, tcti, parent)?;
    let result = f(ctx, primary, &name);
    flush(ctx, primary.into());
    result
}

/// The auth value to use for a key file: the stored one, or the caller's for user-auth keys.
pub(crate) fn key_auth(key: &KeyFile, user: Option<&AuthValue>) -> Result<Option<AuthValue>> {
    match (key.auth(), user) {
        (StoredAuth::None, _) => Ok(None),
        (StoredAuth::Random(v), _) => Ok(Some(v.clone())),
        (StoredAuth::User, Some(v)) => Ok(Some(v.clone())),
        (StoredAuth::User, None) => Err(TpmError::AuthRequired),
    }
}

/// Loads a key under its (re-derived) parent after checking the parent's name, and sets its
/// auth value. The parent is flushed; the caller owns (and must flush) the returned handle.
pub(crate) fn load_key(
    ctx: &mut Context,
    tcti: &Tcti,
    key: &KeyFile,
    auth: Option<&AuthValue>,
) -> Result<KeyHandle> {
    if let Some(parent) = key.parent_handle() {
        let mut object: ObjectHandle = open_parent(ctx, tcti, parent)?.into();
        let result = load_key_under(ctx, tcti, key, auth, object.into(), &[]);
        let _ = ctx.tr_close(&mut object);
        return result;
    }
    let loaded = with_primary(ctx, tcti, key.parent(), |ctx, primary, name| {
        load_key_under(ctx, tcti, key, auth, primary, name)
    });
    match loaded {
        Err(TpmError::KeyRejected { .. }) if rsa_fallback(key) => {
            with_primary(ctx, tcti, ParentTemplate::Tss2Rsa2048, |ctx, primary, name| {
                load_key_under(ctx, tcti, key, auth, primary, name)
            })
            // Both refused it: report the primary the file names.
            .or(loaded)
        }
        other => other,
    }
}

/// Whether a key the ECC owner primary refused may be a child of the RSA one: a TSS2 file with
/// parent `0x40000001` and no `rsaParent`, which tpm2-tss-engine and tpm2-openssl write for
/// keys under their RSA primary on TPMs without ECC (and older tpm2-tss-engine always).
fn rsa_fallback(key: &KeyFile) -> bool {
    key.parent() == ParentTemplate::Tss2EccP256
        && key.parent_handle().is_none()
        && key.parent_name().is_empty()
}

/// The ESYS handle of a TSS2 key's persistent parent; the caller closes it (`tr_close`).
fn open_parent(ctx: &mut Context, tcti: &Tcti, parent: PersistentHandle) -> Result<KeyHandle> {
    let value = parent.value();
    let tpm_handle = PersistentTpmHandle::new(value).map_err(|source| TpmError::Tpm {
        operation: "naming a persistent handle",
        code: 0,
        source,
    })?;
    let object = ctx
        .execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::Persistent(tpm_handle)))
        .map_err(|e| {
            match classify_handle("opening the key's parent", tcti.as_str(), value, e) {
                TpmError::HandleNotFound { handle } => {
                    TpmError::ParentNotFound { handle, path: None }
                }
                other => other,
            }
        })?;
    Ok(object.into())
}

/// Loads a key under an already loaded `primary` whose TPM name is `name`.
fn load_key_under(
    ctx: &mut Context,
    tcti: &Tcti,
    key: &KeyFile,
    auth: Option<&AuthValue>,
    primary: KeyHandle,
    name: &[u8],
) -> Result<KeyHandle> {
    // TSS2 files do not pin their parent's name: a wrong parent fails the load instead.
    if !key.parent_name().is_empty() && name != key.parent_name() {
        return Err(TpmError::WrongParent {
            expected: hex::encode(key.parent_name()),
            actual: hex::encode(name),
            template: key.parent().name(),
        });
    }
    let handle = ctx
        .execute_with_session(Some(AuthSession::Password), |c| {
            c.load(primary, key.private().clone(), key.public().clone())
        })
        .map_err(|e| classify_load(tcti.as_str(), e))?;
    if let Some(auth) = auth {
        let set = auth.to_tss().and_then(|a| {
            ctx.tr_set_auth(handle.into(), a)
                .map_err(|e| classify("setting the key's auth value", tcti.as_str(), e))
        });
        if let Err(e) = set {
            flush(ctx, handle.into());
            return Err(e);
        }
    }
    Ok(handle)
}

/// Opens a persistent key: its ESYS handle and public area, with its auth value set.
pub(crate) fn open_persistent(
    ctx: &mut Context,
    tcti: &Tcti,
    handle: PersistentHandle,
    auth: Option<&AuthValue>,
) -> Result<(KeyHandle, Public)> {
    let value = handle.value();
    let tpm_handle = PersistentTpmHandle::new(value).map_err(|source| TpmError::Tpm {
        operation: "naming a persistent handle",
        code: 0,
        source,
    })?;
    let object = ctx
        .execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::Persistent(tpm_handle)))
        .map_err(|e| classify_handle("opening a persistent key", tcti.as_str(), value, e))?;
    let key: KeyHandle = object.into();
    let (public, _, _) = ctx
        .execute_without_session(|c| c.read_public(key))
        .map_err(|e| classify_handle("reading a persistent key", tcti.as_str(), value, e))?;
    if let Some(auth) = auth {
        ctx.tr_set_auth(object, auth.to_tss()?)
            .map_err(|e| classify("setting the key's auth value", tcti.as_str(), e))?;
    }
    Ok((key, public))
}

fn property(ctx: &mut Context, tcti: &Tcti, tag: PropertyTag) -> Result<u32> {
    let (data, _) = ctx
        .execute_without_session(|c| c.get_capability(CapabilityType::TpmProperties, tag.into(), 1))
        .map_err(|e| classify("reading TPM properties", tcti.as_str(), e))?;
    Ok(match data {
        CapabilityData::TpmProperties(list) => list.find(tag).map_or(0, |p| p.value()),
        _ => 0,
    })
}

/// Four ASCII characters packed in a `u32`, with NULs and padding spaces dropped.
fn ascii(value: u32) -> String {
    value
        .to_be_bytes()
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|b| char::from(*b))
        .collect()
}

impl Tpm {
    /// Connects to the TPM behind `tcti`, failing with [`TpmError::NoTpm`] when none answers.
    pub fn connect(tcti: &Tcti) -> Result<Self> {
        Ok(Self { tcti: tcti.clone(), ctx: open_context(tcti)?, primary: None })
    }

    /// Connects to the TPM named by `TPM2TOOLS_TCTI`/`TCTI`, or `device:/dev/tpmrm0`.
    pub fn connect_from_env() -> Result<Self> {
        Self::connect(&Tcti::from_env()?)
    }

    /// The TCTI this connection uses.
    #[must_use]
    pub fn tcti(&self) -> &Tcti {
        &self.tcti
    }

    fn classify(&self, operation: &'static str, e: tss_esapi::Error) -> TpmError {
        classify(operation, self.tcti.as_str(), e)
    }

    /// The startup probe: who made the TPM, its firmware, and which of our algorithms it does.
    pub fn info(&mut self) -> Result<TpmInfo> {
        let tcti = self.tcti.clone();
        let mut prop = |tag| property(&mut self.ctx, &tcti, tag);
        let manufacturer = ascii(prop(PropertyTag::Manufacturer)?).trim().to_owned();
        let mut vendor = String::new();
        for tag in [
            PropertyTag::VendorString1,
            PropertyTag::VendorString2,
            PropertyTag::VendorString3,
            PropertyTag::VendorString4,
        ] {
            vendor.push_str(&ascii(prop(tag)?));
        }
        let (fw1, fw2) =
            (prop(PropertyTag::FirmwareVersion1)?, prop(PropertyTag::FirmwareVersion2)?);
        let revision = prop(PropertyTag::Revision)?;
        let transient_slots = prop(PropertyTag::HrTransientMin)?;
        let persistent_slots_free = prop(PropertyTag::HrPersistentAvail)?;
        let lockout_counter = prop(PropertyTag::LockoutCounter)?;
        let max_auth_fail = prop(PropertyTag::MaxAuthFail)?;
        let mut algorithms = Vec::new();
        for alg in SignatureAlgorithm::ALL {
            let params = match template::signing_key_public(alg, true)? {
                Public::Ecc { parameters, .. } => PublicParameters::Ecc(parameters),
                Public::Rsa { parameters, .. } => PublicParameters::Rsa(parameters),
                _ => continue,
            };
            if self.ctx.execute_without_session(|c| c.test_parms(params)).is_ok() {
                algorithms.push(alg);
            }
        }
        Ok(TpmInfo {
            tcti: self.tcti.to_string(),
            manufacturer,
            vendor: vendor.trim().to_owned(),
            firmware_version: format!(
                "{}.{}.{}.{}",
                fw1 >> 16,
                fw1 & 0xffff,
                fw2 >> 16,
                fw2 & 0xffff
            ),
            firmware_raw: (fw1, fw2),
            spec_revision: format!("{}.{:02}", revision / 100, revision % 100),
            algorithms,
            transient_slots,
            persistent_slots_free,
            lockout_counter,
            max_auth_fail,
        })
    }

    /// The current dictionary-attack failure count (`TPM2_PT_LOCKOUT_COUNTER`).
    pub fn lockout_counter(&mut self) -> Result<u32> {
        property(&mut self.ctx, &self.tcti, PropertyTag::LockoutCounter)
    }

    /// The storage primary for `parent`, derived once and kept loaded.
    fn primary(&mut self, parent: ParentTemplate) -> Result<(KeyHandle, Vec<u8>)> {
        if let Some((template, handle, name)) = &self.primary {
            if *template == parent {
                return Ok((*handle, name.clone()));
            }
        }
        if let Some((_, old, _)) = self.primary.take() {
            flush(&mut self.ctx, old.into());
        }
        let (handle, name) = create_primary(&mut self.ctx, &self.tcti, parent)?;
        self.primary = Some((parent, handle, name.clone()));
        Ok((handle, name))
    }

    /// Loads a key under its cached parent; the caller flushes the returned handle.
    fn load(&mut self, key: &KeyFile, auth: Option<&AuthValue>) -> Result<KeyHandle> {
        if key.parent_handle().is_some() {
            return load_key(&mut self.ctx, &self.tcti, key, auth);
        }
        let (primary, name) = self.primary(key.parent())?;
        let loaded = load_key_under(&mut self.ctx, &self.tcti, key, auth, primary, &name);
        if !(matches!(loaded, Err(TpmError::KeyRejected { .. })) && rsa_fallback(key)) {
            return loaded;
        }
        let (primary, name) = self.primary(ParentTemplate::Tss2Rsa2048)?;
        load_key_under(&mut self.ctx, &self.tcti, key, auth, primary, &name).or(loaded)
    }

    /// The TPM name of this TPM's storage primary for `parent` (what key files pin).
    pub fn parent_name(&mut self, parent: ParentTemplate) -> Result<Vec<u8>> {
        Ok(self.primary(parent)?.1)
    }

    /// Creates a non-exportable signing key under `parent`.
    ///
    /// With [`KeyAuth::Random`] the generated auth value is stored in the returned key file;
    /// with [`KeyAuth::User`] it is not, and must be given again to use the key.
    pub fn create_key(
        &mut self,
        algorithm: SignatureAlgorithm,
        parent: ParentTemplate,
        auth: &KeyAuth,
    ) -> Result<KeyFile> {
        let (auth_value, stored) = match auth {
            KeyAuth::None => (None, StoredAuth::None),
            KeyAuth::Random => {
                let v = AuthValue::random()?;
                (Some(v.clone()), StoredAuth::Random(v))
            }
            KeyAuth::User(v) => (Some(v.clone()), StoredAuth::User),
        };
        let public = template::signing_key_public(algorithm, auth.no_da())?;
        let tss_auth = auth_value.as_ref().map(AuthValue::to_tss).transpose()?;
        let (primary, name) = self.primary(parent)?;
        let created = self
            .ctx
            .execute_with_session(Some(AuthSession::Password), |c| {
                c.create(primary, public, tss_auth, None, None, None)
            })
            .map_err(|e| self.classify("creating the key", e))?;
        KeyFile::new(parent, name, created.out_public, created.out_private, stored)
    }

    /// Creates a non-exportable signing key under the persistent storage key at `parent` (as
    /// `openssl genpkey -provider tpm2 -pkeyopt parent:0x81…` does); it is saved as a TSS2 key
    /// file, the format that records such parents. [`KeyAuth::Random`] is refused: a TSS2 file
    /// cannot hold the value.
    pub fn create_key_under_persistent(
        &mut self,
        algorithm: SignatureAlgorithm,
        parent: PersistentHandle,
        auth: &KeyAuth,
    ) -> Result<KeyFile> {
        let (auth_value, stored) = match auth {
            KeyAuth::None => (None, StoredAuth::None),
            KeyAuth::User(v) => (Some(v.to_tss()?), StoredAuth::User),
            _ => {
                return Err(TpmError::Unsupported(
                    "a TSS2 key file cannot hold a random auth value".to_owned(),
                ));
            }
        };
        let public = template::signing_key_public(algorithm, auth.no_da())?;
        let tcti = self.tcti.clone();
        let mut object: ObjectHandle = open_parent(&mut self.ctx, &tcti, parent)?.into();
        let created = self.ctx.execute_with_session(Some(AuthSession::Password), |c| {
            c.create(object.into(), public, auth_value, None, None, None)
        });
        let _ = self.ctx.tr_close(&mut object);
        let created = created.map_err(|e| self.classify("creating the key", e))?;
        KeyFile::under_persistent(parent, created.out_public, created.out_private, stored)
    }

    /// Adopts a key made elsewhere under this TPM's `parent` primary (e.g. by
    /// `tpm2_create -C <primary from tpm2_createprimary>`), checking that it loads.
    ///
    /// `auth` is the key's auth value, if it has one; it is not stored (the key file says
    /// `user`).
    pub fn import(
        &mut self,
        public: Public,
        private: Private,
        parent: ParentTemplate,
        auth: Option<&AuthValue>,
    ) -> Result<KeyFile> {
        let name = self.parent_name(parent)?;
        let stored = if auth.is_some() { StoredAuth::User } else { StoredAuth::None };
        let key = KeyFile::new(parent, name, public, private, stored)?;
        let handle = self.load(&key, auth)?;
        flush(&mut self.ctx, handle.into());
        Ok(key)
    }

    /// Loads a key to check that this TPM accepts it (right parent, intact blob), then flushes it.
    pub fn check_key(&mut self, key: &KeyFile, user_auth: Option<&AuthValue>) -> Result<PublicKey> {
        let auth = key_auth(key, user_auth)?;
        let handle = self.load(key, auth.as_ref())?;
        flush(&mut self.ctx, handle.into());
        key.public_key()
    }

    /// Makes a key persistent at `handle` (`TPM2_EvictControl`), so it survives reboots
    /// without its key file. Fails with [`TpmError::HandleInUse`] if the handle is taken, and
    /// with [`TpmError::ReservedHandle`] for handles the TCG reserves for endorsement keys or
    /// the platform.
    pub fn persist(&mut self, key: &KeyFile, handle: PersistentHandle) -> Result<()> {
        if let Some(range) = handle.reserved_range() {
            return Err(TpmError::ReservedHandle { handle: handle.value(), range });
        }
        let tcti = self.tcti.clone();
        // No auth is needed to load or persist: only to use the key.
        let loaded = self.load(key, None)?;
        let result = PersistentTpmHandle::new(handle.value())
            .map_err(|source| TpmError::Tpm {
                operation: "naming a persistent handle",
                code: 0,
                source,
            })
            .and_then(|target| {
                self.ctx
                    .execute_with_session(Some(AuthSession::Password), |c| {
                        c.evict_control(
                            Provision::Owner,
                            loaded.into(),
                            Persistent::Persistent(target),
                        )
                    })
                    .map_err(|e| {
                        classify_handle("persisting the key", tcti.as_str(), handle.value(), e)
                    })
            });
        flush(&mut self.ctx, loaded.into());
        // evict_control returns an ESYS handle for the new persistent object: close it.
        let mut persistent = result?;
        let _ = self.ctx.tr_close(&mut persistent);
        Ok(())
    }

    /// The persistent handles in use (`TPM2_GetCapability(TPM_CAP_HANDLES)`), all owners.
    pub fn list_persistent(&mut self) -> Result<Vec<PersistentHandle>> {
        let mut out = Vec::new();
        let mut next = proofmark_types::PERSISTENT_HANDLE_MIN;
        loop {
            let (data, more) = self
                .ctx
                .execute_without_session(|c| c.get_capability(CapabilityType::Handles, next, 64))
                .map_err(|e| self.classify("listing persistent handles", e))?;
            let CapabilityData::Handles(list) = data else { break };
            let mut last = None;
            for h in list.iter() {
                let value = u32::from(*h);
                if let Ok(p) = PersistentHandle::new(value) {
                    out.push(p);
                }
                last = Some(value);
            }
            match last {
                Some(v) if more && v < proofmark_types::PERSISTENT_HANDLE_MAX => next = v + 1,
                _ => break,
            }
        }
        Ok(out)
    }

    /// The algorithm and public key of the key at a persistent handle.
    pub fn read_persistent(
        &mut self,
        handle: PersistentHandle,
    ) -> Result<(SignatureAlgorithm, PublicKey)> {
        let tcti = self.tcti.clone();
        let (key, public) = open_persistent(&mut self.ctx, &tcti, handle, None)?;
        let mut object: ObjectHandle = key.into();
        let _ = self.ctx.tr_close(&mut object);
        Ok((template::algorithm_of(&public)?, template::public_key(&public)?))
    }

    /// Removes the object at a persistent handle (`TPM2_EvictControl`).
    pub fn evict(&mut self, handle: PersistentHandle) -> Result<()> {
        let tcti = self.tcti.clone();
        let (key, _) = open_persistent(&mut self.ctx, &tcti, handle, None)?;
        let target = PersistentTpmHandle::new(handle.value()).map_err(|source| TpmError::Tpm {
            operation: "naming a persistent handle",
            code: 0,
            source,
        })?;
        self.ctx
            .execute_with_session(Some(AuthSession::Password), |c| {
                c.evict_control(Provision::Owner, key.into(), Persistent::Persistent(target))
            })
            .map_err(|e| classify_handle("evicting the key", tcti.as_str(), handle.value(), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_properties() {
        assert_eq!(ascii(0x4942_4d00), "IBM");
        assert_eq!(ascii(0x5357_2020), "SW  ");
    }
}
