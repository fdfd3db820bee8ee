//! What the dialogs answer, routed back: a key pressed in the open dialog,
//! a confirmed question to the view that asked it, a picked value to its
//! purpose, a submitted form to the view that validates and sends it. A
//! question a form opens goes in front of it; the form waits, as typed.

use crossterm::event::{KeyCode, KeyEvent};

use super::app::App;
use super::dialog::confirm::Answer;
use super::dialog::form::{Outcome, Purpose};
use super::dialog::picker::{CREATE_TENANT, Picked, PickerPurpose};
use super::dialog::{Confirmed, Dialog};
use super::views::keys::index::SortColumn;
use super::views::users::UsersView;

impl App {
    pub(super) fn on_dialog_key(&mut self, key: KeyEvent) {
        let Some(dialog) = self.shell.dialogs.current.as_mut() else {
            return;
        };
        match dialog {
            Dialog::Help { scroll } => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | '?') => {
                    self.shell.dialogs.close();
                }
                KeyCode::Down | KeyCode::Char('j') => *scroll += 1,
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => *scroll += 10,
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
                KeyCode::Char('G') | KeyCode::End => *scroll = usize::MAX / 2,
                _ => {}
            },
            Dialog::Message { .. } => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
                    self.shell.dialogs.close();
                }
            }
            Dialog::Confirm(confirm) => match confirm.on_key(key) {
                Answer::Pending => {}
                Answer::Cancelled => self.shell.dialogs.close(),
                Answer::Confirmed(action) => {
                    self.shell.dialogs.close();
                    self.confirmed(action);
                }
            },
            Dialog::Secret(modal) => {
                if modal.on_key(key, &mut self.shell.clipboard) {
                    self.shell.dialogs.close();
                }
            }
            Dialog::Picker(picker) => {
                let purpose = picker.purpose;
                match picker.on_key(key) {
                    Picked::Open => {}
                    Picked::Closed => self.shell.dialogs.close(),
                    Picked::Chosen(value) => {
                        self.shell.dialogs.close();
                        self.picked(purpose, &value);
                    }
                }
            }
            Dialog::Form(form) => match form.on_key(key) {
                Outcome::Editing => {}
                Outcome::Cancel => self.shell.dialogs.close(),
                Outcome::Submit => self.submit_form(),
            },
        }
    }

    fn confirmed(&mut self, action: Confirmed) {
        match action {
            Confirmed::Keys(pending) => self.keys.confirmed(pending, &mut self.shell),
            Confirmed::Settings(pending) => {
                // The settings form waited behind the question: it is saving now.
                if let Some(form) = self.shell.dialogs.form_mut() {
                    form.submitting = true;
                    form.error = None;
                }
                self.settings.send(pending, &mut self.shell);
            }
            Confirmed::Users(pending) => self.users.confirmed(pending, &self.shell),
        }
    }

    fn picked(&mut self, purpose: PickerPurpose, value: &str) {
        match purpose {
            PickerPurpose::Tenant if value == CREATE_TENANT => {
                super::tenants::open_form(&mut self.shell)
            }
            PickerPurpose::Tenant => self.switch_tenant(value),
            PickerPurpose::Rotate => self.keys.grace_chosen(value, &mut self.shell),
            PickerPurpose::Sort => {
                if let Some(column) = SortColumn::from_label(value) {
                    self.keys.sort_by(column, &mut self.shell);
                }
            }
        }
    }

    /// Validates and sends the open form, routed by its purpose. A dialog it
    /// opens (a question) goes in front of it; the form waits, as typed.
    fn submit_form(&mut self) {
        let Some(Dialog::Form(mut form)) = self.shell.dialogs.current.take() else {
            return;
        };
        if form.submitting {
            self.shell.dialogs.current = Some(Dialog::Form(form));
            return;
        }
        match &form.purpose {
            Purpose::RotateKey { id, name } => {
                let (id, name) = (id.clone(), name.clone());
                super::views::keys::form::submit_rotate(&mut form, id, name, &mut self.shell);
            }
            Purpose::AddKey | Purpose::DuplicateKey { .. } => {
                super::views::keys::form::submit(&mut form, None, &self.shell);
            }
            Purpose::EditKey { id, .. } => {
                let original = self.keys.keys.iter().find(|k| &k.id == id).cloned();
                super::views::keys::form::submit(&mut form, original.as_ref(), &self.shell);
            }
            Purpose::Settings { .. } => {
                let live = self
                    .keys
                    .keys
                    .iter()
                    .filter(|k| k.status == crate::domain::KeyStatus::Active)
                    .count();
                self.settings.submit(&mut form, live, &mut self.shell);
            }
            Purpose::CreateUser | Purpose::EditUser { .. } => {
                UsersView::submit(&mut form, &self.shell)
            }
            Purpose::CreateTenant => super::tenants::submit(&mut form, &self.shell),
        }
        match self.shell.dialogs.current.take() {
            None => self.shell.dialogs.current = Some(Dialog::Form(form)),
            Some(question) => {
                self.shell.dialogs.queued.push_front(Dialog::Form(form));
                self.shell.dialogs.current = Some(question);
            }
        }
    }
}
