//! Small building blocks the views and dialogs share.

pub mod list_cursor;
pub mod text_field;
