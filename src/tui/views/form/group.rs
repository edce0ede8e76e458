//! A group session's form (issue 21): the shared summary is for what is common to the group;
//! what the worker observed of one participant is typed under that participant's name on
//! the same screen and becomes a note in that participant's own dossier only. The fields
//! follow the participants chosen; a text typed for someone taken off the list is kept aside
//! and comes back when they are chosen again.
//!
//! The nudges look at each text with its own names: the summary must name no participant,
//! an observation no other participant (their name would land in someone else's dossier).

use super::super::fields::{FormField, OBSERVATION, OBSERVATION_SPECIAL};
use super::super::initials;
use super::Form;
use crate::i18n::t;
use crate::model::record::Input;

/// A free text of the form and what goes with it.
pub(super) struct Slot {
    /// The text's field.
    pub at: usize,
    /// Its special mark's field, if it has one.
    pub flag: Option<usize>,
    /// Names that do not belong in it.
    pub names: Vec<String>,
}

impl Form {
    /// The participants chosen: (dossier id, name).
    fn chosen_participants(&self) -> Vec<(String, String)> {
        let Some(p) = self.fields.iter().find(|f| f.multi) else {
            return Vec::new();
        };
        p.chosen()
            .into_iter()
            .zip(p.labels())
            .map(|(id, name)| (id.to_owned(), name))
            .collect()
    }

    /// Keeps one observation (and its special mark) per chosen participant, in the order
    /// they were chosen, after the form's own fields.
    pub(super) fn follow_participants(&mut self) {
        if !self.fields.iter().any(|f| f.multi) {
            return;
        }
        let chosen = self.chosen_participants();
        let (mut per, own): (Vec<FormField>, Vec<FormField>) =
            self.fields.drain(..).partition(|f| f.about.is_some());
        per.append(&mut self.stash);
        self.fields = own;
        for (id, _) in &chosen {
            for name in [OBSERVATION, OBSERVATION_SPECIAL] {
                let f = match per
                    .iter()
                    .position(|f| f.name == name && f.about.as_deref() == Some(id.as_str()))
                {
                    Some(i) => per.remove(i),
                    None => FormField::per_participant(name, id),
                };
                self.fields.push(f);
            }
        }
        // What was typed for someone no longer chosen waits until they are chosen again.
        self.stash = per
            .into_iter()
            .filter(|f| f.name == OBSERVATION && !f.value.trim().is_empty())
            .collect();
        self.focus = self.focus.min(self.fields.len().saturating_sub(1));
    }

    /// Values kept in a draft for a per-participant field (`observation:ID`).
    pub(super) fn restore_per_participant(&mut self, values: &[(String, String)]) {
        for (key, value) in values {
            let Some((name, id)) = key.split_once(':') else {
                continue;
            };
            if let Some(f) = self
                .fields
                .iter_mut()
                .find(|f| f.name == name && f.about.as_deref() == Some(id))
            {
                f.set(value.clone());
            }
        }
    }

    /// The name a field is kept under in a draft.
    pub(super) fn draft_name(f: &FormField) -> String {
        match &f.about {
            Some(id) => format!("{}:{id}", f.name),
            None => f.name.to_owned(),
        }
    }

    /// A field's label: a per-participant field names the participant (by first name, or
    /// whole when two share one; by initials on the privacy screen).
    pub(super) fn label_of(&self, f: &FormField, hide: bool) -> String {
        let Some(id) = &f.about else {
            return f.label(self.kind);
        };
        let chosen = self.chosen_participants();
        let full = chosen
            .iter()
            .find(|(c, _)| c == id)
            .map_or_else(|| id.clone(), |(_, n)| n.clone());
        let first = |n: &str| n.split_whitespace().next().unwrap_or_default().to_owned();
        let name = if hide {
            initials(&full)
        } else if chosen
            .iter()
            .filter(|(c, n)| c != id && first(n) == first(&full))
            .count()
            > 0
        {
            full
        } else {
            first(&full)
        };
        if f.name == OBSERVATION {
            t!("tui.group_note_for", name = name)
        } else {
            t!("tui.group_note_special", name = name)
        }
        .into_owned()
    }

    /// Every free text with its special mark and the names that do not belong in it.
    pub(super) fn slots(&self) -> Vec<Slot> {
        let participants = self.chosen_participants();
        let mut all = self.names.clone();
        all.extend(participants.iter().map(|(_, n)| n.clone()));
        let flag_of = |about: Option<&str>, name: &str| {
            self.fields.iter().position(|g| {
                g.name == name && g.input == Input::Flag && g.about.as_deref() == about
            })
        };
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.input == Input::Text)
            .map(|(at, f)| match &f.about {
                None => Slot {
                    at,
                    flag: flag_of(None, "special"),
                    names: all.clone(),
                },
                Some(id) => {
                    let mut names = self.names.clone();
                    names.extend(
                        participants
                            .iter()
                            .filter(|(c, _)| c != id)
                            .map(|(_, n)| n.clone()),
                    );
                    Slot {
                        at,
                        flag: flag_of(Some(id), OBSERVATION_SPECIAL),
                        names,
                    }
                }
            })
            .collect()
    }
}
