// PLACEHOLDER (lead): replaced by the API helper's implementation.
use std::sync::Arc;
pub struct CallbackSender;
impl CallbackSender {
    pub fn start(_base: String) -> Arc<CallbackSender> { Arc::new(CallbackSender) }
    pub fn attach_hub(&self, _hub: &Arc<crate::hub::Hub>) {}
}
impl crate::hub::EventSink for CallbackSender {
    fn emit(&self, _: Option<u64>, _: &'static str, _: serde_json::Value) {}
}
