//! `work::start`: a prepared pass run with its hold on the run kept: the run's lock (one
//! process per run), or a membership of the pass whose lease holds (many processes on a store
//! they share; a lost lease stops the pass and kills its workers).

use super::prepare::{Prepared, Result};
use super::{Keep, Options, Summary, WorkError};
use crate::lock::RunLock;
use crate::store::{Access, Store};

/// How a pass holds its run: the run's lock (one process per run), or as one member of many
/// (a store many processes share).
#[derive(Debug)]
pub enum Hold {
    Lock(RunLock),
    Member(crate::store::Membership),
}

/// Run the pass: record its start, open the recorder's own connection, and work through the
/// selection with the run's lock kept (a lost lock that another process took stops the pass),
/// or as a member whose lease holds (a lost lease stops it, its workers killed).
pub fn start(store: &Store, prepared: Prepared, options: Options) -> Result<Summary> {
    let Prepared {
        run, worker, hold, ..
    } = prepared;
    store.mark_run_started(&run.id, &crate::store::now_text())?;
    let recorder = store.open_another(Access::Write)?;
    let (keep, member): (Keep, _) = match hold {
        Hold::Lock(mut lock) => (
            Box::new(move || lock.keep().map_err(|e| WorkError::LostLock(e.to_string()))),
            None,
        ),
        Hold::Member(member) => {
            let (lost, lease) = (member.lost_flag(), member.lease());
            let keep = move || match lost.load(std::sync::atomic::Ordering::SeqCst) {
                true => Err(WorkError::LostLease { lease }),
                false => Ok(()),
            };
            (Box::new(keep) as Keep, Some(member))
        }
    };
    let mut summary = super::run(store, recorder, &run.id, worker, options, keep);
    if let (Some(member), Ok(summary)) = (&member, &mut summary) {
        // The run's counters now: the other members' results are in them too.
        summary.progress = store.progress(&run.id)?;
        // A lease found lost as the pass ended (its last results refused) ends it so too.
        if member.lost() && summary.fatal.is_none() {
            summary.fatal = Some(WorkError::LostLease {
                lease: member.lease(),
            });
        }
    }
    if let Some(member) = member {
        use crate::store::MemberEnd;
        member.end(match &summary {
            Ok(s) if s.interrupted => MemberEnd::Interrupted,
            Ok(s) if matches!(s.fatal, Some(WorkError::LostLease { .. })) => MemberEnd::LostLease,
            Ok(s) if s.fatal.is_none() => MemberEnd::Done,
            _ => MemberEnd::Failed,
        });
    }
    Ok(summary?)
}

/// A prepared pass with nothing to do: its hold let go (a membership ended as done, so that
/// `show` does not call it failed; the run's lock released).
pub fn release(prepared: Prepared) {
    if let Hold::Member(member) = prepared.hold {
        member.end(crate::store::MemberEnd::Done);
    }
}
