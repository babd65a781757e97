//! A list most units leave empty, kept in 8 bytes until something is added: a unit's state is
//! what a 100,000-node run holds 100,000 of, and its three lists were 72 of its bytes.

use std::ops::Deref;

/// Reads as a slice; grows by [`Notes::push`].
// The box is the point: one pointer inline instead of a vector's three words.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, PartialEq)]
pub struct Notes<T>(Option<Box<Vec<T>>>);

impl<T> Default for Notes<T> {
    fn default() -> Notes<T> {
        Notes(None)
    }
}

impl<T> Notes<T> {
    pub fn push(&mut self, note: T) {
        self.0.get_or_insert_with(Box::default).push(note);
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }
}

impl<T> Deref for Notes<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<T> From<Vec<T>> for Notes<T> {
    fn from(v: Vec<T>) -> Notes<T> {
        if v.is_empty() { Notes(None) } else { Notes(Some(Box::new(v))) }
    }
}

impl<'a, T> IntoIterator for &'a Notes<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::Notes;

    #[test]
    fn an_empty_list_holds_no_allocation_and_reads_as_a_slice() {
        let mut n: Notes<u32> = Notes::default();
        assert!(n.0.is_none());
        assert!(n.is_empty());
        n.push(3);
        n.push(4);
        assert_eq!(&*n, &[3, 4]);
        assert_eq!(n.iter().copied().collect::<Vec<_>>(), vec![3, 4]);
        n.clear();
        assert!(n.0.is_none());
        assert_eq!(std::mem::size_of::<Notes<u32>>(), 8);
    }
}
