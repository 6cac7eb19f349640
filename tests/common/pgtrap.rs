//! A PostgreSQL server that asks every client for its password in clear text and records what
//! arrives: the test's stand-in for a stranger's server. With an upstream, it then hands the
//! connection to that (trusting) server, so the client goes on as if it had logged in.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct PasswordTrap {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl PasswordTrap {
    pub async fn start(upstream: Option<String>) -> PasswordTrap {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, record) = (upstream.clone(), record.clone());
                tokio::spawn(async move {
                    let _ = serve(client, upstream, record).await;
                });
            }
        });
        PasswordTrap { port, seen }
    }

    /// Every password a client sent, in order (an empty one when it had none to send).
    pub fn passwords(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: Option<String>,
    record: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    // The startup message, after any TLS or GSS encryption request (answered "no").
    let startup = loop {
        let len = client.read_u32().await? as usize;
        let mut body = vec![0u8; len - 4];
        client.read_exact(&mut body).await?;
        let code = u32::from_be_bytes(body[..4].try_into().unwrap());
        if code == 80877103 || code == 80877104 {
            client.write_all(b"N").await?;
            continue;
        }
        let mut whole = (len as u32).to_be_bytes().to_vec();
        whole.extend(body);
        break whole;
    };
    // AuthenticationCleartextPassword.
    client.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
    let tag = client.read_u8().await?;
    let len = client.read_u32().await? as usize;
    let mut body = vec![0u8; len - 4];
    client.read_exact(&mut body).await?;
    if tag == b'p' {
        let password = String::from_utf8_lossy(body.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
        record.lock().unwrap().push(password);
    }
    let Some(upstream) = upstream else {
        let mut fields = Vec::new();
        for (k, v) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "28P01"), (b'M', "password authentication failed")] {
            fields.push(k);
            fields.extend(v.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut msg = vec![b'E'];
        msg.extend(((fields.len() + 4) as u32).to_be_bytes());
        msg.extend(fields);
        client.write_all(&msg).await?;
        return Ok(());
    };
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&startup).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
