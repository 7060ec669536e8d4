//! The chat records as rows: each message of each chat one row, in the
//! order the API gave them, `seq` its place in its chat.

use super::{Encoded, Row, RowEncoder, Source};
use crate::api::chat_record::Records;
use crate::api::classify::classify_body;
use crate::api::query::Query;
use crate::api::{Chat, ChatAnswer, CodePolicy, Request, Verdict};
use crate::record::drift::CustomerDrift;

/// The chat records of each customer, in the run's window and filters.
#[derive(Debug, Clone)]
pub struct ChatRecords {
    request: Records,
}

impl ChatRecords {
    pub fn new(query: Query) -> ChatRecords {
        ChatRecords {
            request: Records { query },
        }
    }
}

impl Source for ChatRecords {
    fn request(&self) -> &dyn Request {
        &self.request
    }

    fn encode(
        &self,
        customer_id: &str,
        body: &[u8],
        codes: &CodePolicy,
        encoder: &dyn RowEncoder,
        out: &mut Vec<u8>,
    ) -> Result<Encoded, Verdict> {
        let answer = classify_body::<Chat>(body, codes)?;
        Ok(encode_customer(encoder, customer_id, &answer, out))
    }
}

/// Flatten a successful answer into rows, in API order, and encode them.
pub fn encode_customer(
    encoder: &dyn RowEncoder,
    customer_id: &str,
    envelope: &ChatAnswer<'_>,
    out: &mut Vec<u8>,
) -> Encoded {
    let chats = envelope.chats();
    let mut rows = chats.iter().flat_map(|chat| {
        chat.messages().iter().enumerate().map(move |(seq, m)| Row {
            customer_id,
            chat_id: chat.id(),
            seq,
            sender_type: m.sender_type.as_str(),
            message_type: m.message_type.as_str(),
            content: m.content.as_str(),
            extra: &m.extra,
            chat_extra: &chat.extra,
        })
    });
    let rows = encoder.rows(&mut rows, out);
    Encoded {
        chats: chats.len() as u64,
        rows,
        drift: CustomerDrift::of(envelope),
    }
}
