//! The cursor of a scrolling list: which row is selected and which row is
//! at the top of the window. Every list view (keys, events, users, the
//! settings and the pickers) moves with the same keys through this one type.
//!
//! A row number is only where the selection is drawn. What is selected is
//! an identity the view keeps beside the cursor (a key ID, a user ID); after
//! the list changes, the view finds that identity again and calls
//! [`ListCursor::follow`].

use std::ops::Range;

/// A movement of the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    Top,
    Bottom,
}

impl Move {
    /// The movement a list action asks for, if it is one.
    #[must_use]
    pub fn from_action(action: crate::console::keymap::Action) -> Option<Self> {
        use crate::console::keymap::Action;
        Some(match action {
            Action::Up => Move::Up,
            Action::Down => Move::Down,
            Action::PageUp => Move::PageUp,
            Action::PageDown => Move::PageDown,
            Action::HalfPageUp => Move::HalfPageUp,
            Action::HalfPageDown => Move::HalfPageDown,
            Action::Top => Move::Top,
            Action::Bottom => Move::Bottom,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCursor {
    pub row: usize,
    pub offset: usize,
    /// Rows in the window (set from the layout; at least 1).
    height: usize,
}

impl ListCursor {
    #[must_use]
    pub fn height(&self) -> usize {
        self.height.max(1)
    }

    pub fn set_height(&mut self, height: usize, count: usize) {
        self.height = height.max(1);
        self.clamp(count);
    }

    /// Keeps the row inside `0..count` and the row inside the window.
    pub fn clamp(&mut self, count: usize) {
        if count == 0 {
            self.row = 0;
            self.offset = 0;
            return;
        }
        self.row = self.row.min(count - 1);
        let height = self.height();
        if self.row < self.offset {
            self.offset = self.row;
        } else if self.row >= self.offset + height {
            self.offset = self.row + 1 - height;
        }
        self.offset = self.offset.min(count.saturating_sub(height));
    }

    /// Applies a movement in a list of `count` rows.
    pub fn apply(&mut self, movement: Move, count: usize) {
        if count == 0 {
            return;
        }
        let page = isize::try_from(self.height()).unwrap_or(10);
        let delta = match movement {
            Move::Up => -1,
            Move::Down => 1,
            Move::PageUp => -page,
            Move::PageDown => page,
            Move::HalfPageUp => -(page / 2).max(1),
            Move::HalfPageDown => (page / 2).max(1),
            Move::Top => {
                self.row = 0;
                return self.clamp(count);
            }
            Move::Bottom => {
                self.row = count - 1;
                return self.clamp(count);
            }
        };
        self.row = self.row.saturating_add_signed(delta).min(count - 1);
        self.clamp(count);
    }

    /// After the list changed: `Some(row)` where the selected item now is,
    /// or `None` when it is gone, in which case the cursor stays on the same
    /// row number (a neighbour of the lost item), clamped to the list.
    pub fn follow(&mut self, position: Option<usize>, count: usize) {
        if let Some(row) = position {
            self.row = row;
        }
        self.clamp(count);
    }

    /// The rows of the window, for drawing.
    #[must_use]
    pub fn window(&self, count: usize) -> Range<usize> {
        let start = self.offset.min(count);
        start..(start + self.height()).min(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_keeps_the_row_in_the_window() {
        let mut cursor = ListCursor::default();
        cursor.set_height(5, 20);
        cursor.apply(Move::PageDown, 20);
        assert_eq!((cursor.row, cursor.offset), (5, 1));
        cursor.apply(Move::HalfPageDown, 20);
        assert_eq!(cursor.row, 7);
        cursor.apply(Move::Bottom, 20);
        assert_eq!((cursor.row, cursor.offset), (19, 15));
        assert_eq!(cursor.window(20), 15..20);
        cursor.follow(None, 3);
        assert_eq!((cursor.row, cursor.offset), (2, 0));
    }
}
