// PLACEHOLDER (lead): replaced by the API helper's implementation.
use std::sync::Arc;
pub fn serve(server: tiny_http::Server, hub: Arc<crate::hub::Hub>, api_token: Option<String>) {
    let _ = (hub, api_token);
    for req in server.incoming_requests() {
        let _ = req.respond(tiny_http::Response::from_string("{}").with_status_code(404));
    }
}
