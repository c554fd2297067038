//! `#[gmpos::test]`: registers a QEMU test case where it is declared, like a
//! Go `func TestXxx` that `go test` finds by itself.
//!
//! No list of cases exists anywhere. For each annotated `fn name()` the
//! attribute emits, next to the function:
//!
//! - a `gmpos::testing::Case { name, func }` static in the linker section
//!   `.gmpos_cases.<line>.<name>`, which the kernel's harness walks
//!   (`linker.ld` gathers `.gmpos_cases.*` sorted by name between
//!   `__gmpos_cases_start` and `__gmpos_cases_end`);
//! - the bytes `case=<name>\n` in `.gmpos_test.case.<line>.<name>`, which
//!   `linker.ld` appends, sorted the same way, to the `.gmpos_test` section
//!   the host runner reads to know which cases to expect.
//!
//! Both section names carry the same key (the zero-padded source line, then
//! the name), so the kernel runs the cases and the runner expects them in
//! the same order: source order. The runner relies on that order (the last
//! case's verdict waits for the end of the boot).
//!
//! Hand-rolled on `proc_macro` alone (no `syn`): the input only has to be a
//! plain `fn name() { ... }` with optional attributes and visibility.
use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Registers `fn name()` as a test case of the test kernel it is declared
/// in. See the crate documentation; used as `#[gmpos::test]`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(t) = attr.into_iter().next() {
        return error(t.span(), "#[gmpos::test] takes no arguments");
    }
    let (name, span) = match case_name(&item) {
        Ok(n) => n,
        Err((span, msg)) => return error(span, msg),
    };
    let line = span.line();
    let key = format!("{line:06}.{name}");
    let meta = format!("case={name}\n");
    let code = format!(
        "const _: () = {{
            #[unsafe(link_section = \".gmpos_test.case.{key}\")]
            #[used]
            static META: [u8; {len}] = *{meta_lit};
            #[unsafe(link_section = \".gmpos_cases.{key}\")]
            #[used]
            static CASE: ::gmpos::testing::Case = ::gmpos::testing::Case {{
                name: \"{name}\",
                func: {name},
            }};
        }};",
        len = meta.len(),
        meta_lit = Literal::byte_string(meta.as_bytes()),
    );
    let mut out = item;
    out.extend(code.parse::<TokenStream>().expect("generated code parses"));
    out
}

/// The function's name and span, if `item` is `fn name()` (attributes,
/// `pub` and the like before it are fine; arguments, generics and `async`
/// are not: the harness calls `fn()`).
fn case_name(item: &TokenStream) -> Result<(String, Span), (Span, &'static str)> {
    let mut it = item.clone().into_iter();
    while let Some(t) = it.next() {
        match &t {
            TokenTree::Ident(i) if i.to_string() == "fn" => {
                let name = match it.next() {
                    Some(TokenTree::Ident(n)) => n,
                    _ => return Err((i.span(), "expected a function name after `fn`")),
                };
                return match it.next() {
                    Some(TokenTree::Group(g))
                        if g.delimiter() == Delimiter::Parenthesis && g.stream().is_empty() =>
                    {
                        Ok((name.to_string(), name.span()))
                    }
                    _ => Err((
                        name.span(),
                        "a test case is a plain `fn name()`: no arguments or generics",
                    )),
                };
            }
            TokenTree::Ident(i) if i.to_string() == "async" => {
                return Err((i.span(), "a test case cannot be async"));
            }
            _ => {}
        }
    }
    Err((Span::call_site(), "#[gmpos::test] goes on a function"))
}

/// `compile_error!(msg)` at `span`.
fn error(span: Span, msg: &str) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    let mut semi = Punct::new(';', Spacing::Alone);
    semi.set_span(span);
    let name = Ident::new("compile_error", span);
    let mut args = Group::new(Delimiter::Parenthesis, TokenTree::Literal(lit).into());
    args.set_span(span);
    [
        TokenTree::Ident(name),
        TokenTree::Punct(bang),
        TokenTree::Group(args),
        TokenTree::Punct(semi),
    ]
    .into_iter()
    .collect()
}
