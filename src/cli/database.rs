//! `db create` and `db drop`: the environment's database itself.

use super::*;

pub(super) async fn db_verb(ctx: &Ctx, cmd: &DbCmd) -> Result<()> {
    let s = ctx.session()?;
    let label = label(&s.ws);
    match cmd {
        DbCmd::Create => match ops::create_database(&s).await? {
            true => println!("Created {label}, empty: `{} up` applies the migrations.", ctx.again),
            false => println!("{label} already exists; nothing was done."),
        },
        DbCmd::Drop => {
            let typed = ctx.typed(&Guard::for_drop(&s.ws))?;
            match ops::drop_database(&s, typed.as_deref()).await? {
                true => println!("Dropped {label}."),
                false => println!("{label} does not exist; nothing was done."),
            }
        }
    }
    Ok(())
}
