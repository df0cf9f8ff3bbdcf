// The expansion must not depend on names the user may shadow: prelude types, macros, `std` and
// `core`, or names of the SDK's own items.

#![allow(dead_code, unused_macros, non_camel_case_types, non_snake_case)]

use healthcheck::healthcheck;

type Result<T> = ::std::result::Result<T, String>;
type Option = ();
type Box = ();
type Vec = ();
type String = &'static str;
struct Send;
struct Sync;
struct Future;
struct Pin;
struct Cow;
struct Component;
struct Status;
struct Body;
struct CheckDef;
struct BoxFuture;
struct Registration;
trait IntoComponent {}
mod std {}
mod core {}
mod alloc {}
mod inventory {}
mod __private {}
fn into_component() {}
fn boxed() {}
fn Ok() {}
fn Err() {}
fn Some() {}
macro_rules! file {
    () => {
        compile_error!("the user's file! was used")
    };
}
macro_rules! line {
    () => {
        compile_error!("the user's line! was used")
    };
}
macro_rules! column {
    () => {
        compile_error!("the user's column! was used")
    };
}
macro_rules! submit {
    ($($t:tt)*) => {
        compile_error!("the user's submit! was used")
    };
}

#[healthcheck]
fn with_alias() -> Result<()> {
    let Box = 1;
    let Ok = 2;
    let Err = 3;
    let __healthcheck_result = Box + Ok + Err;
    let _ = __healthcheck_result;
    ::std::result::Result::Ok(())
}

#[healthcheck]
async fn async_with_alias() -> Result<()> {
    let Box = ();
    let __healthcheck_component = Box;
    ::std::result::Result::Ok(__healthcheck_component)
}

#[healthcheck(groups = ["back"], timeout = "1s")]
fn fills(__healthcheck_component: &mut healthcheck::Component) {
    let Box = true;
    __healthcheck_component.set_healthy(Box);
}

#[healthcheck]
async fn async_fills(component: &mut healthcheck::Component) {
    let __healthcheck_result = healthcheck::Status::Healthy;
    component.set_status(__healthcheck_result);
}

fn main() {}
