//! A restore, keep or revert of a database site as a caller asks for it (the command
//! line, the HTTP API): the steps of [`review`] in their order, every
//! refusal recorded in the audit log, so that each caller only confirms and reports.
//!
//! A restore is two calls: [`prepare_restore`] (the state directory's owner, the review
//! lock, the repair of what a killed run left, the plan, and every reason to refuse it,
//! nothing changed) and [`Prepared::restore`] (the restore, pending review, audited).

use sitepack_reader::Archive;

use crate::review::{
    self, PendingDbRestore, Reverted, ReviewLock, ReviewedRestore, Settled, pending_error,
};
use crate::{DbError, Descriptor, Mode, RestoreOptions, RestorePlan};

/// A restore as asked.
#[derive(Debug, Clone)]
pub struct RestoreRequest<'a> {
    /// What the archive is called in the audit log.
    pub archive_name: &'a str,
    /// The mode, `--as` (`as_tenant`), and a new tenant's `new_tenant`.
    pub options: RestoreOptions,
    /// Whether the archive's uploaded files are restored too (not `--no-files`).
    pub files: bool,
    /// Plan only: no lock is taken and nothing is repaired or changed.
    pub dry_run: bool,
}

/// What [`prepare_restore`] found, before anything changed.
#[derive(Debug)]
pub struct Prepared {
    /// The review lock (none for a dry run), held until the restore is done.
    lock: Option<ReviewLock>,
    /// What the repair of a killed run did (read only, for a dry run).
    pub settled: Settled,
    /// The plan.
    pub plan: RestorePlan,
    /// Why the restore is refused, if it is (the plan's refusals, or the uploaded
    /// files'); recorded by [`Prepared::refuse`].
    pub refusal: Option<DbError>,
}

/// The outcome of [`prepare_restore`].
#[derive(Debug)]
pub enum Preparation {
    /// Planned: restore it (when `refusal` is `None`), or show why not.
    Planned(Prepared),
    /// Refused before a plan could be made (another tenant's state directory, the lock
    /// held, a restore pending, files waiting, a plan the database refused); recorded
    /// in the audit log when it is about this restore. What the repair did, if it ran.
    Refused {
        /// Why.
        error: DbError,
        /// What the repair of a killed run did, when it ran.
        settled: Option<Settled>,
    },
}

/// The text a refusal is said with, `command` naming what was refused (`restore`,
/// `init`); `None` when the error is not a refusal (a failure, said as such).
#[must_use]
pub fn refusal_message(command: &str, error: &DbError) -> Option<String> {
    if let DbError::RestoreRefused { reasons } = error {
        // Said once: the error's own text starts as this line does.
        let listed = reasons
            .iter()
            .fold(String::new(), |all, reason| all + "\n  - " + reason);
        Some(format!("{command} refused; nothing was changed:{listed}"))
    } else if error.is_refusal() {
        Some(format!("{command} refused; nothing was changed: {error}"))
    } else {
        None
    }
}

/// Locks, repairs, plans and checks a restore of `archive` (already validated); nothing
/// is changed. A refusal about this restore is recorded in the audit log (a warning in
/// `warnings` when it cannot be).
pub fn prepare_restore(
    descriptor: &Descriptor,
    archive: &Archive,
    request: &RestoreRequest<'_>,
    command: &str,
    warnings: &mut Vec<String>,
) -> Result<Preparation, DbError> {
    let refused = |error: DbError, settled| {
        if error.is_refusal() {
            Ok(Preparation::Refused { error, settled })
        } else {
            Err(error)
        }
    };
    if let Err(error) = review::check_state_dir_owner(descriptor) {
        return refused(error, None);
    }
    let (lock, settled) = if request.dry_run {
        let settled = Settled {
            pending: review::pending_restore(descriptor)?,
            // Not finished by a dry run: said.
            files_unfinished: review::files_waiting(descriptor)?,
            ..Settled::default()
        };
        (None, settled)
    } else {
        let lock = match ReviewLock::take(descriptor) {
            Ok(lock) => lock,
            Err(error) => return refused(error, None),
        };
        let settled = review::settle(descriptor, &lock)?;
        (Some(lock), settled)
    };
    // Unfinished files, or a restore pending: refused.
    let blocked = settled
        .files_unfinished
        .clone()
        .map(|problem| DbError::Review { problem })
        .or_else(|| {
            settled
                .pending
                .as_ref()
                .map(|pending| pending_error(descriptor, pending))
        });
    if let Some(error) = blocked {
        record_refusal(
            descriptor,
            archive,
            request.options.mode,
            command,
            &error,
            warnings,
        );
        return refused(error, Some(settled));
    }
    let plan = {
        let mut engine = crate::connect_writable(descriptor)?;
        crate::plan_restore_with(engine.as_mut(), descriptor, archive, &request.options)
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(error) => return refused(error, Some(settled)),
    };
    let mut refusal = plan.refusal_error();
    if refusal.is_none() && request.files {
        refusal = files_refusal(descriptor, archive, plan.mode);
    }
    Ok(Preparation::Planned(Prepared {
        lock,
        settled,
        plan,
        refusal,
    }))
}

/// What the uploaded files' restore would refuse (a dry run says it too).
fn files_refusal(descriptor: &Descriptor, archive: &Archive, mode: Mode) -> Option<DbError> {
    let area = match crate::files::restored_area(descriptor, archive) {
        Ok(Some(area)) => area,
        Ok(None) => return None,
        Err(error) => return Some(error),
    };
    crate::files::check_restorable(descriptor, archive, &area, mode == Mode::Replace).err()
}

/// Records a refused restore of `archive` in the audit log, said as `command` says it.
pub fn record_refusal(
    descriptor: &Descriptor,
    archive: &Archive,
    mode: Mode,
    command: &str,
    error: &DbError,
    warnings: &mut Vec<String>,
) {
    if let Some(reason) = refusal_message(command, error) {
        warnings.extend(review::record_refused_restore(
            descriptor, archive, mode, &reason,
        ));
    }
}

impl Prepared {
    /// Records the refusal (its plan's, or one the caller met: not confirmed) in the
    /// audit log and gives it back.
    pub fn refuse(
        &self,
        descriptor: &Descriptor,
        archive: &Archive,
        command: &str,
        error: DbError,
        warnings: &mut Vec<String>,
    ) -> DbError {
        record_refusal(
            descriptor,
            archive,
            self.plan.mode,
            command,
            &error,
            warnings,
        );
        error
    }

    /// Restores the planned rows (and files), pending review, and records it in the
    /// audit log. `None` for a dry run (or a second call): nothing is changed.
    pub fn restore(
        &mut self,
        descriptor: &Descriptor,
        archive: &Archive,
        request: &RestoreRequest<'_>,
        warnings: &mut Vec<String>,
    ) -> Option<Result<ReviewedRestore, DbError>> {
        let lock = self.lock.take()?;
        let result = review::restore_for_review(
            descriptor,
            &self.plan,
            archive,
            request.archive_name,
            request.files,
            &lock,
        );
        warnings.extend(review::record_restore(
            descriptor, archive, &self.plan, &result,
        ));
        Some(result)
    }
}

/// `status`: the restore pending review, once what a killed run left is repaired (when no
/// other command holds the review lock; read as it is otherwise).
pub fn restore_status(descriptor: &Descriptor) -> Result<Settled, DbError> {
    review::check_state_dir_owner(descriptor)?;
    match ReviewLock::take(descriptor) {
        Ok(lock) => review::settle(descriptor, &lock),
        Err(_) => Ok(Settled {
            pending: review::pending_restore(descriptor)?,
            ..Settled::default()
        }),
    }
}

/// `keep`: accepts the pending restore and removes its snapshot, recorded in the audit
/// log (a warning in `warnings` when it cannot be).
pub fn keep_restore(
    descriptor: &Descriptor,
    warnings: &mut Vec<String>,
) -> Result<PendingDbRestore, DbError> {
    let lock = ReviewLock::take(descriptor)?;
    let result = review::keep(descriptor, &lock);
    warnings.extend(review::record_settled(descriptor, false, &result));
    result
}

/// `revert`: puts the rows (and files) back as before the pending restore, recorded in
/// the audit log.
pub fn revert_restore(
    descriptor: &Descriptor,
    warnings: &mut Vec<String>,
) -> Result<Reverted, DbError> {
    let lock = ReviewLock::take(descriptor)?;
    let result = review::revert(descriptor, &lock);
    let settled = result.as_ref().map(|r: &Reverted| r.pending.clone());
    // Rows reverted and files not: a failure, not a refusal.
    let settled = settled.map_err(|e| match e {
        DbError::FilesUnfinished { problem } => DbError::FilesUnfinished {
            problem: problem.clone(),
        },
        other => DbError::Review {
            problem: other.to_string(),
        },
    });
    warnings.extend(review::record_settled(descriptor, true, &settled));
    result
}

/// A restore of `archive` planned in both modes, and the restore pending review if one
/// is (`preview --against`, an upload through the API); nothing is changed.
#[derive(Debug, serde::Serialize)]
pub struct BothPlans {
    /// The restore pending review: a new one is refused until it is kept or reverted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_restore: Option<PendingDbRestore>,
    /// The merge plan.
    pub merge: RestorePlan,
    /// The replace plan.
    pub replace: RestorePlan,
}

impl BothPlans {
    /// Plans both modes, as tenant `as_tenant` when given (`--as`).
    pub fn plan(
        descriptor: &Descriptor,
        archive: &Archive,
        as_tenant: Option<&sitepack_format::database::TenantValue>,
    ) -> Result<Self, DbError> {
        let pending_restore = review::pending_restore(descriptor)?;
        let mut engine = crate::connect_writable(descriptor)?;
        let mut plan = |mode| {
            let options = RestoreOptions {
                mode,
                as_tenant: as_tenant.cloned(),
                new_tenant: false,
            };
            crate::plan_restore_with(engine.as_mut(), descriptor, archive, &options)
        };
        let merge = plan(Mode::Merge)?;
        let replace = plan(Mode::Replace)?;
        Ok(Self {
            pending_restore,
            merge,
            replace,
        })
    }

    /// Whether a restore would be refused now.
    #[must_use]
    pub fn refused(&self) -> bool {
        self.pending_restore.is_some() || self.merge.is_refused() && self.replace.is_refused()
    }
}
