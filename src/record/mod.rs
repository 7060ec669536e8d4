//! What a row is, whatever format it goes to and whatever endpoint it
//! came from: the columns ([`Column`]), one flattened row ([`Row`]) and
//! what each column holds in it ([`Cell`]), the one trait every format
//! implements ([`RowEncoder`]), and what the engine fetches for each item
//! of its list and how an answer becomes rows ([`Source`]). [`chat`] is
//! the chat records' source, [`contact`] the contact list's ([`Table`]
//! says which a run writes); [`drift`] counts how answers strayed from
//! the documentation.

pub mod chat;
pub mod contact;
pub mod drift;
pub mod mask;
pub mod pseudonym;

use std::borrow::Cow;

use drift::CustomerDrift;

use crate::api::{CodePolicy, Request, Verdict};

/// What the engine fetches for each item of its list (a customer ID), and
/// how a 200 answer becomes encoded rows: one per endpoint the engine can
/// drive. The engine brings the concurrency, the limiter, the retries, the
/// order and the files; a source brings the request and the rows.
pub trait Source: Send + Sync {
    /// The request sent for each item.
    fn request(&self) -> &dyn Request;

    /// Judge a 200 `body` for `item` (a non-success `Code` judged by
    /// `codes`) and, when it is a success, append its rows to `out` in
    /// `encoder`'s format.
    fn encode(
        &self,
        item: &str,
        body: &[u8],
        codes: &CodePolicy,
        encoder: &dyn RowEncoder,
        out: &mut Vec<u8>,
    ) -> Result<Encoded, Verdict>;

    /// Text about an item that leaves the run (a failure's message, which
    /// may quote the platform), with what the rows would not carry
    /// removed; as it is by default.
    fn scrub(&self, text: &str) -> String {
        text.to_string()
    }
}

/// One output column, of either table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    CustomerId,
    ChatId,
    Seq,
    SenderType,
    MessageType,
    Content,
    /// The message's (or the contact's) undocumented fields, as a JSON
    /// object.
    Extra,
    /// The chat's undocumented fields, as a JSON object.
    ChatExtra,
    /// A contact's `id` (the chat records' `customer_id`).
    Id,
    Name,
    /// Personal data: written only when `--columns` names it.
    Mobile,
    /// Personal data: written only when `--columns` names it.
    Email,
}

/// What a run writes rows of: the chat records, or the contact list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Chats,
    Contacts,
}

impl Table {
    /// The default columns, in their default order.
    pub fn defaults(self) -> &'static [Column] {
        match self {
            Table::Chats => &Column::ALL,
            Table::Contacts => &Column::CONTACTS,
        }
    }

    /// Columns written only when `--columns` names them.
    pub fn optional(self) -> &'static [Column] {
        match self {
            Table::Chats => &Column::OPTIONAL,
            Table::Contacts => &Column::CONTACTS_OPTIONAL,
        }
    }

    /// Parse a `--columns` list for this table: names, comma-separated,
    /// each at most once.
    pub fn parse_columns(self, list: &str) -> Result<Vec<Column>, String> {
        let known = || self.defaults().iter().chain(self.optional()).copied();
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim) {
            let col = known().find(|c| c.name() == name).ok_or_else(|| {
                format!(
                    "--columns: unknown column {name:?}; choose from {}",
                    known().map(Column::name).collect::<Vec<_>>().join(",")
                )
            })?;
            if out.contains(&col) {
                return Err(format!("--columns: {name} is listed twice"));
            }
            out.push(col);
        }
        Ok(out)
    }
}

impl Column {
    /// The chat records' default columns, in their default order.
    pub const ALL: [Column; 6] = [
        Column::CustomerId,
        Column::ChatId,
        Column::Seq,
        Column::SenderType,
        Column::MessageType,
        Column::Content,
    ];

    /// Chat columns written only when `--columns` names them.
    pub const OPTIONAL: [Column; 2] = [Column::Extra, Column::ChatExtra];

    /// The contact list's default columns: no personal data.
    pub const CONTACTS: [Column; 2] = [Column::Id, Column::Name];

    /// Contact columns written only when `--columns` names them: the
    /// personal data, and the fields the documentation does not name.
    pub const CONTACTS_OPTIONAL: [Column; 3] = [Column::Mobile, Column::Email, Column::Extra];

    /// The column's name in headers and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Column::CustomerId => "customer_id",
            Column::ChatId => "chat_id",
            Column::Seq => "seq",
            Column::SenderType => "sender_type",
            Column::MessageType => "message_type",
            Column::Content => "content",
            Column::Extra => "extra",
            Column::ChatExtra => "chat_extra",
            Column::Id => "id",
            Column::Name => "name",
            Column::Mobile => "mobile",
            Column::Email => "email",
        }
    }

    /// Parse a `--columns` list of the chat records (see
    /// [`Table::parse_columns`]).
    pub fn parse_list(list: &str) -> Result<Vec<Column>, String> {
        Table::Chats.parse_columns(list)
    }
}

/// One row, of either table.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    Chat(ChatRow<'a>),
    Contact(ContactRow<'a>),
}

/// One flattened message.
#[derive(Debug, Clone, Copy)]
pub struct ChatRow<'a> {
    pub customer_id: &'a str,
    pub chat_id: &'a str,
    /// 0-based position of the message in its chat.
    pub seq: usize,
    pub sender_type: &'a str,
    pub message_type: &'a str,
    pub content: &'a str,
    /// The message's undocumented fields (name, JSON text), in order.
    pub extra: &'a [(Cow<'a, str>, Cow<'a, str>)],
    /// The chat's undocumented fields (name, JSON text), in order.
    pub chat_extra: &'a [(Cow<'a, str>, Cow<'a, str>)],
}

/// One contact of the list.
#[derive(Debug, Clone, Copy)]
pub struct ContactRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub mobile: &'a str,
    pub email: &'a str,
    /// The contact's undocumented fields (name, JSON text), in order.
    pub extra: &'a [(Cow<'a, str>, Cow<'a, str>)],
}

/// What a column holds in one row.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// Text: a string column.
    Text(&'a str),
    /// The `seq` integer.
    Seq(usize),
    /// A JSON object of (name, JSON text) members, in order.
    Object(&'a [(Cow<'a, str>, Cow<'a, str>)]),
}

impl<'a> Row<'a> {
    /// What `column` holds in this row (a column of the other table holds
    /// empty text; the configuration never asks for one).
    #[inline]
    pub fn cell(&self, column: Column) -> Cell<'a> {
        match self {
            Row::Chat(row) => match column {
                Column::CustomerId => Cell::Text(row.customer_id),
                Column::ChatId => Cell::Text(row.chat_id),
                Column::Seq => Cell::Seq(row.seq),
                Column::SenderType => Cell::Text(row.sender_type),
                Column::MessageType => Cell::Text(row.message_type),
                Column::Content => Cell::Text(row.content),
                Column::Extra => Cell::Object(row.extra),
                Column::ChatExtra => Cell::Object(row.chat_extra),
                Column::Id | Column::Name | Column::Mobile | Column::Email => Cell::Text(""),
            },
            Row::Contact(row) => match column {
                Column::Id => Cell::Text(row.id),
                Column::Name => Cell::Text(row.name),
                Column::Mobile => Cell::Text(row.mobile),
                Column::Email => Cell::Text(row.email),
                Column::Extra => Cell::Object(row.extra),
                _ => Cell::Text(""),
            },
        }
    }
}

/// Append a JSON object of (name, JSON text) members: names escaped as
/// JSON requires, values as they are (already compact JSON texts).
pub fn write_object(out: &mut Vec<u8>, members: &[(Cow<'_, str>, Cow<'_, str>)]) {
    out.push(b'{');
    for (i, (name, json)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, &**name).expect("writing to memory cannot fail");
        out.push(b':');
        out.extend_from_slice(json.as_bytes());
    }
    out.push(b'}');
}

/// A row format. Implementations append bytes to a buffer; they never do I/O.
pub trait RowEncoder: Send + Sync {
    /// The columns written, in order.
    fn columns(&self) -> &[Column];
    /// Bytes that open the file (a header row), if any.
    fn header(&self, out: &mut Vec<u8>);
    /// Append the rows of one item (a customer's messages, the contact
    /// list); returns how many rows were written.
    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64;
}

/// A shared encoder encodes as the one it shares (a pipeline keeps its own
/// handle on the encoder it gives the run).
impl<E: RowEncoder + ?Sized> RowEncoder for std::sync::Arc<E> {
    fn columns(&self) -> &[Column] {
        (**self).columns()
    }
    fn header(&self, out: &mut Vec<u8>) {
        (**self).header(out)
    }
    fn rows(&self, rows: &mut dyn Iterator<Item = Row<'_>>, out: &mut Vec<u8>) -> u64 {
        (**self).rows(rows, out)
    }
}

/// Counts of one encoded customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    pub chats: u64,
    pub rows: u64,
    /// How the answer strayed from the documentation.
    pub drift: CustomerDrift,
    /// `--mask` matches per class.
    pub masked: mask::MaskCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_parse_in_the_given_order() {
        assert_eq!(
            Column::parse_list("content, seq").unwrap(),
            vec![Column::Content, Column::Seq]
        );
        assert!(Column::parse_list("seq,seq").is_err());
        assert!(Column::parse_list("").is_err());
        assert_eq!(
            Column::parse_list("seq,extra,chat_extra").unwrap(),
            vec![Column::Seq, Column::Extra, Column::ChatExtra]
        );
        let err = Column::parse_list("nope").unwrap_err();
        assert!(err.ends_with("content,extra,chat_extra"), "{err}");
        assert!(Column::parse_list("mobile").is_err(), "a contact column");
    }

    #[test]
    fn contact_columns_keep_personal_data_optional() {
        assert_eq!(Table::Contacts.defaults(), &[Column::Id, Column::Name]);
        assert_eq!(
            Table::Contacts
                .parse_columns("id,mobile,email,extra")
                .unwrap(),
            vec![Column::Id, Column::Mobile, Column::Email, Column::Extra]
        );
        let err = Table::Contacts.parse_columns("content").unwrap_err();
        assert!(err.ends_with("id,name,mobile,email,extra"), "{err}");
    }
}
