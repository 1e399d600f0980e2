//! The part of Apollo's `reports.proto` `Trace` message that federated traces
//! carry: start and end time, duration and the resolver tree.

/// A federated trace (`Trace` in Apollo's `reports.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Trace {
    /// Wall-clock end of the operation.
    #[prost(message, optional, tag = "3")]
    pub end_time: Option<Timestamp>,
    /// Wall-clock start of the operation.
    #[prost(message, optional, tag = "4")]
    pub start_time: Option<Timestamp>,
    /// High-precision duration.
    #[prost(uint64, tag = "11")]
    pub duration_ns: u64,
    /// The resolver tree.
    #[prost(message, optional, tag = "14")]
    pub root: Option<Node>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    /// Seconds since the epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// One resolver call, or one list index, in the response's shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Node {
    /// The response key or list index.
    #[prost(oneof = "NodeId", tags = "1, 2")]
    pub id: Option<NodeId>,
    /// The field's name when the response key is an alias.
    #[prost(string, tag = "14")]
    pub original_field_name: String,
    /// The field's return type, e.g. `String!`.
    #[prost(string, tag = "3")]
    pub r#type: String,
    /// The field's parent type.
    #[prost(string, tag = "13")]
    pub parent_type: String,
    /// Start, in ns from the trace's start.
    #[prost(uint64, tag = "8")]
    pub start_time: u64,
    /// End, in ns from the trace's start.
    #[prost(uint64, tag = "9")]
    pub end_time: u64,
    /// Errors of this resolver.
    #[prost(message, repeated, tag = "11")]
    pub error: Vec<TraceError>,
    /// Children in the response.
    #[prost(message, repeated, tag = "12")]
    pub child: Vec<Node>,
}

/// How a node is addressed in the response.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum NodeId {
    /// A field's response key.
    #[prost(string, tag = "1")]
    ResponseName(String),
    /// A list index.
    #[prost(uint32, tag = "2")]
    Index(u32),
}

/// An error of a resolver.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceError {
    /// The message.
    #[prost(string, tag = "1")]
    pub message: String,
    /// Where in the operation.
    #[prost(message, repeated, tag = "2")]
    pub location: Vec<Location>,
    /// When, in ns from the trace's start.
    #[prost(uint64, tag = "3")]
    pub time_ns: u64,
    /// The error as JSON.
    #[prost(string, tag = "4")]
    pub json: String,
}

/// A position in the operation text.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Location {
    /// 1-based line.
    #[prost(uint32, tag = "1")]
    pub line: u32,
    /// 1-based column.
    #[prost(uint32, tag = "2")]
    pub column: u32,
}
