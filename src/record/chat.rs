//! The chat records as rows: each message of each chat one row, in the
//! order the API gave them, `seq` its place in its chat.

use std::borrow::Cow;

use super::mask::{MaskCounts, Masker};
use super::pseudonym::Pseudonymizer;
use super::{ChatRow, Encoded, Row, RowEncoder, Source};
use crate::api::chat_record::Records;
use crate::api::classify::classify_body;
use crate::api::json::List;
use crate::api::query::Query;
use crate::api::{Chat, ChatAnswer, CodePolicy, Request, Verdict};
use crate::record::drift::CustomerDrift;

/// The chat records of each customer, in the run's window and filters,
/// with `--mask` applied to the text and `--pseudonymize` to the IDs.
#[derive(Debug, Clone)]
pub struct ChatRecords {
    request: Records,
    mask: Option<Masker>,
    pseudonym: Option<Pseudonymizer>,
}

impl ChatRecords {
    pub fn new(
        query: Query,
        mask: Option<Masker>,
        pseudonym: Option<Pseudonymizer>,
    ) -> ChatRecords {
        ChatRecords {
            request: Records { query },
            mask,
            pseudonym,
        }
    }
}

/// Rewrite the personal data `mask` finds in every message's content and
/// in the string values of the undocumented fields.
fn mask_answer(answer: &mut ChatAnswer<'_>, mask: &Masker) -> MaskCounts {
    let mut counts = MaskCounts::new();
    if let List::Items(chats) = &mut answer.data {
        for chat in chats {
            mask.mask_extra(&mut chat.extra, &mut counts);
            if let List::Items(messages) = &mut chat.messages {
                for m in messages {
                    mask.mask_field(&mut m.content, &mut counts);
                    mask.mask_extra(&mut m.extra, &mut counts);
                }
            }
        }
    }
    counts
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
        let mut answer = classify_body::<Chat>(body, codes)?;
        let masked = match &self.mask {
            Some(mask) => mask_answer(&mut answer, mask),
            None => MaskCounts::new(),
        };
        let written_id = match &self.pseudonym {
            Some(p) => Cow::Owned(p.pseudonym(customer_id)),
            None => Cow::Borrowed(customer_id),
        };
        Ok(Encoded {
            masked,
            ..encode_customer(encoder, &written_id, &answer, out)
        })
    }

    fn scrub(&self, text: &str) -> String {
        match &self.mask {
            Some(mask) => mask.mask(text, &mut MaskCounts::new()).into_owned(),
            None => text.to_string(),
        }
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
        chat.messages().iter().enumerate().map(move |(seq, m)| {
            Row::Chat(ChatRow {
                customer_id,
                chat_id: chat.id(),
                seq,
                sender_type: m.sender_type.as_str(),
                message_type: m.message_type.as_str(),
                content: m.content.as_str(),
                extra: &m.extra,
                chat_extra: &chat.extra,
            })
        })
    });
    let rows = encoder.rows(&mut rows, out);
    Encoded {
        chats: chats.len() as u64,
        rows,
        drift: CustomerDrift::of(envelope),
        masked: MaskCounts::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::mask::MaskStyle;

    /// A failure's text is scrubbed by the run's mask, and left as it is
    /// without one.
    #[test]
    fn failure_text_is_scrubbed_by_the_mask() {
        let query = Query::default();
        let mask = Masker::parse("pii", MaskStyle::Tag).unwrap();
        let masked = ChatRecords::new(query.clone(), Some(mask), None);
        let said = "API Code 4001: 用户 13812345678 不存在";
        assert_eq!(masked.scrub(said), "API Code 4001: 用户 [MOBILE] 不存在");
        assert_eq!(ChatRecords::new(query, None, None).scrub(said), said);
    }
}
