//! Saving what daily practice adds from a form (issue 21): a group session with each
//! participant's own note, through the session's door in one change, and the word the
//! afwegingskader has when a meldcode's decision goes against its weighing.

use super::save::{Refused, day};
use super::{App, Screen};
use crate::error::Error;
use crate::i18n::t;
use crate::model::record::Cell;
use crate::session::GroupNote;
use crate::tui::nav::Tab;
use crate::tui::views::fields::{OBSERVATION, OBSERVATION_SPECIAL};
use crate::tui::views::form::Output;

impl App {
    /// Whether a meldcode's decision goes against what step 4 weighed: said, not refused
    /// (the professional decides, and answers for it), as `kluis meldcode decide` does.
    pub(super) fn decision_contradicts(&mut self, client: &str, signal: &str) -> bool {
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        session
            .meldcodes(client, false)
            .ok()
            .and_then(|list| list.into_iter().find(|t| t.signal.id == signal))
            .is_some_and(|t| {
                t.steps
                    .iter()
                    .find_map(|s| s.decision)
                    .is_some_and(|d| t.contradicts(d))
            })
    }

    /// Saves a group session as `kluis group add` does (a copy in each participant's
    /// dossier, no other participant's name in it) with each participant's own observation
    /// as a note in their dossier only, all through the session's door in one change.
    pub(super) fn save_group(&mut self, client: Option<String>, out: &Output) {
        let today = self.opts.now().date();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let new = crate::store::NewGroupSession {
            participants: out
                .text("participants")
                .unwrap_or_default()
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            held_on: day(out.get("held_on")).unwrap_or(today),
            theme: out.text("theme").unwrap_or_default().to_owned(),
            summary: out.text("summary").unwrap_or_default().to_owned(),
            special: matches!(out.get("special"), Cell::I(1)),
        };
        let fail = |app: &mut App, Refused(field, why): Refused| {
            if let Screen::Form(form) = &mut app.screen {
                form.fail(field.as_deref(), why);
            }
        };
        if new.held_on > today {
            let why = t!("val.note_in_future").into_owned();
            return fail(self, Refused(Some("held_on".into()), why));
        }
        let notes: Vec<GroupNote> = new
            .participants
            .iter()
            .filter_map(|p| {
                let text = out
                    .of(p, OBSERVATION)
                    .text()
                    .filter(|t| !t.trim().is_empty())?;
                Some(GroupNote {
                    client_id: p.clone(),
                    text: text.to_owned(),
                    special: matches!(out.of(p, OBSERVATION_SPECIAL), Cell::I(1)),
                })
            })
            .collect();
        let saved = session
            .record_group_session(&new, &notes)
            .and_then(|_| session.change(|s| s.discard_form_draft()));
        match saved {
            Ok(()) | Err(Error::NotWritten { .. }) => {
                self.changed = true;
                self.message = Some(match saved {
                    Err(e) => e.to_string(),
                    Ok(()) => t!(
                        "tui.group_saved",
                        n = new.participants.len(),
                        notes = notes.len()
                    )
                    .into_owned(),
                });
                self.back_to(client.as_deref(), Tab::Records, None);
            }
            Err(e) => fail(self, Refused::from(e)),
        }
    }
}
