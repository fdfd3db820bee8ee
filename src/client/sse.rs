//! The client side of the live event stream: a small server-sent events
//! reader (the WHATWG event-stream format: `id:` and `data:` fields,
//! comments, any of the three line endings, messages split anywhere across
//! network reads) and [`EventStream`], which turns a response into audit events.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use super::{ClientError, ClientResult};
use crate::api;

/// One dispatched message: its `id:` (if it had one) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseMessage {
    pub id: Option<String>,
    pub data: String,
}

/// Reads messages out of the bytes of an event stream, in whatever pieces they arrive.
#[derive(Debug, Default)]
pub(crate) struct SseReader {
    line: Vec<u8>,
    /// The previous byte ended a line with `\r`: a `\n` next belongs to it.
    after_cr: bool,
    data: Option<String>,
    id: Option<String>,
}

impl SseReader {
    /// Feeds the next bytes; returns the messages they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseMessage> {
        let mut messages = Vec::new();
        for &byte in bytes {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(message) = self.end_line(&line) {
                        messages.push(message);
                    }
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(byte);
                }
            }
        }
        messages
    }

    fn end_line(&mut self, line: &[u8]) -> Option<SseMessage> {
        if line.is_empty() {
            // A blank line dispatches; a message without data (a heartbeat,
            // a `retry:`) is nothing to deliver.
            // The id stays until another `id:` replaces it, as in the standard.
            let data = self.data.take()?;
            return Some(SseMessage {
                id: self.id.clone(),
                data,
            });
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// A tenant's audit events as they are committed ([`super::Client::event_stream`]),
/// in id order. It ends when the server closes the stream (it closes one
/// that falls too far behind, and all at shutdown) or after one
/// [`ClientError`] when the connection fails. To resume without a gap,
/// open a new one with the `id` of the last event received.
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = ClientResult<api::EventBody>> + Send>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

/// What the stream reads from.
struct Source {
    response: reqwest::Response,
    reader: SseReader,
    ready: VecDeque<ClientResult<api::EventBody>>,
    done: bool,
    /// Turns a failed read into the client's error (it names the server).
    no_answer: Box<dyn Fn(reqwest::Error) -> ClientError + Send>,
}

impl EventStream {
    pub(crate) fn new(
        response: reqwest::Response,
        no_answer: Box<dyn Fn(reqwest::Error) -> ClientError + Send>,
    ) -> Self {
        let source = Source {
            response,
            reader: SseReader::default(),
            ready: VecDeque::new(),
            done: false,
            no_answer,
        };
        let inner = futures::stream::unfold(source, |mut source| async move {
            loop {
                if let Some(item) = source.ready.pop_front() {
                    return Some((item, source));
                }
                if source.done {
                    return None;
                }
                match source.response.chunk().await {
                    Ok(Some(bytes)) => {
                        for message in source.reader.feed(&bytes) {
                            let event = serde_json::from_str::<api::EventBody>(&message.data)
                                .map_err(|e| {
                                    ClientError::Protocol(format!("an event that is not one: {e}"))
                                });
                            source.ready.push_back(event);
                        }
                    }
                    Ok(None) => source.done = true,
                    Err(err) => {
                        source.done = true;
                        source.ready.push_back(Err((source.no_answer)(err)));
                    }
                }
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }
}

impl Stream for EventStream {
    type Item = ClientResult<api::EventBody>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: Option<&str>, data: &str) -> SseMessage {
        SseMessage {
            id: id.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn messages_are_read_across_any_split_and_line_ending() {
        let stream = b":keydesk event stream\nretry: 1000\n\nid: 7\ndata: {\"a\":1}\n\n:heartbeat\r\n\r\nid:8\r\ndata:x\r\ndata: y\r\n\r\nid: 9\rdata: z\r\r";
        let expected = vec![
            message(Some("7"), "{\"a\":1}"),
            message(Some("8"), "x\ny"),
            message(Some("9"), "z"),
        ];
        // Whole, and cut at every position (a \r\n split included).
        let mut whole = SseReader::default();
        assert_eq!(whole.feed(stream), expected);
        for cut in 0..stream.len() {
            let mut reader = SseReader::default();
            let mut got = reader.feed(&stream[..cut]);
            got.extend(reader.feed(&stream[cut..]));
            assert_eq!(got, expected, "cut at {cut}");
        }
        // Byte by byte.
        let mut reader = SseReader::default();
        let got: Vec<_> = stream.iter().flat_map(|b| reader.feed(&[*b])).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_message_without_data_or_not_yet_ended_is_not_delivered() {
        let mut reader = SseReader::default();
        assert_eq!(reader.feed(b"id: 3\n\n: comment\n\ndata: half"), vec![]);
        assert_eq!(reader.feed(b"\n\n"), vec![message(Some("3"), "half")]);
    }
}
