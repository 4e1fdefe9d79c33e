//! `proofmark tpm ...`: what the TPM says about itself, and its persistent keys.

use std::process::ExitCode;

use anyhow::Context;
use proofmark_tpm::{Tcti, Tpm};
use proofmark_types::PersistentHandle;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum TpmCommand {
    /// Which TPM answers, its firmware, the algorithms it supports and its lockout state.
    Info {
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::Format::Human)]
        format: crate::Format,
    },
    /// The persistent handles in use.
    List,
    /// Remove the key persisted at a handle (`TPM2_EvictControl`).
    Evict {
        /// The handle, `0x81xxxxxx`.
        handle: PersistentHandle,
        /// Also evict from the ranges the TCG reserves for endorsement keys
        /// (0x81010000..=0x8101ffff) and the platform (0x81800000..=0x81ffffff).
        #[arg(long)]
        force: bool,
    },
}

/// Which TPM to talk to: `--tcti`, else `TPM2TOOLS_TCTI` or `TCTI`, else `/dev/tpmrm0`.
pub(crate) fn tcti(configured: Option<&str>) -> anyhow::Result<Tcti> {
    Tcti::from_config_or_env(configured).with_context(|| {
        let from = match configured {
            Some(_) => "--tcti",
            None => proofmark_tpm::TCTI_ENV_VARS
                .into_iter()
                .find(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
                .unwrap_or("the default"),
        };
        format!("invalid TCTI in {from}")
    })
}

pub(crate) fn connect(configured: Option<&str>) -> anyhow::Result<Tpm> {
    let tcti = tcti(configured)?;
    // The error names the TCTI and where it came from.
    Ok(Tpm::connect(&tcti)?)
}

pub(crate) fn run(cmd: TpmCommand, configured_tcti: Option<&str>) -> anyhow::Result<ExitCode> {
    if let TpmCommand::Evict { handle, force: false } = &cmd {
        if let Some(range) = handle.reserved_range() {
            anyhow::bail!(
                "refusing to evict {handle}: it lies in {range}, and evicting cannot be undone \
                 (attestation relies on the endorsement key); pass --force if you mean it"
            );
        }
    }
    let mut tpm = connect(configured_tcti)?;
    match cmd {
        TpmCommand::Info { format } => {
            let info = tpm.info().context("the TPM did not answer the capability queries")?;
            let algorithms: Vec<String> = info.algorithms.iter().map(ToString::to_string).collect();
            match format {
                crate::Format::Json => {
                    let json = serde_json::json!({
                        "tcti": info.tcti,
                        "manufacturer": info.manufacturer,
                        "vendor": info.vendor,
                        "firmware_version": info.firmware_version,
                        "spec_revision": info.spec_revision,
                        "algorithms": algorithms,
                        "transient_slots": info.transient_slots,
                        "persistent_slots_free": info.persistent_slots_free,
                        "lockout_counter": info.lockout_counter,
                        "max_auth_fail": info.max_auth_fail,
                    });
                    println!("{}", serde_json::to_string_pretty(&json)?);
                }
                crate::Format::Human => {
                    println!("tcti              {}", info.tcti);
                    println!("manufacturer      {}", info.manufacturer);
                    println!("vendor            {}", info.vendor);
                    println!("firmware          {}", info.firmware_version);
                    println!("spec revision     {}", info.spec_revision);
                    println!("algorithms        {}", algorithms.join(", "));
                    println!("transient slots   {}", info.transient_slots);
                    println!("persistent free   {}", info.persistent_slots_free);
                    println!(
                        "lockout counter   {} of {}",
                        info.lockout_counter, info.max_auth_fail
                    );
                }
            }
        }
        TpmCommand::List => {
            for handle in tpm.list_persistent().context("cannot list persistent handles")? {
                println!("{handle}");
            }
        }
        TpmCommand::Evict { handle, .. } => {
            tpm.evict(handle).with_context(|| format!("cannot evict {handle}"))?;
            eprintln!("evicted {handle}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
