//! AMF0 for the test clients, independent of the crate's own codec.

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Num(f64),
    Bool(bool),
    Str(String),
    Obj(Vec<(String, V)>),
    Null,
    Undefined,
    Ecma(Vec<(String, V)>),
    Arr(Vec<V>),
    Date(f64),
}

impl V {
    pub fn get(&self, key: &str) -> Option<&V> {
        match self {
            V::Obj(p) | V::Ecma(p) => p.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_num(&self) -> Option<f64> {
        match self {
            V::Num(n) => Some(*n),
            _ => None,
        }
    }
}

pub fn s(x: &str) -> V {
    V::Str(x.to_string())
}

pub fn obj(pairs: &[(&str, V)]) -> V {
    V::Obj(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn put_key(k: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(k.len() as u16).to_be_bytes());
    out.extend_from_slice(k.as_bytes());
}

pub fn encode(v: &V, out: &mut Vec<u8>) {
    match v {
        V::Num(n) => {
            out.push(0);
            out.extend_from_slice(&n.to_be_bytes());
        }
        V::Bool(b) => out.extend_from_slice(&[1, *b as u8]),
        V::Str(s) if s.len() <= 0xffff => {
            out.push(2);
            put_key(s, out);
        }
        V::Str(s) => {
            out.push(12);
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        V::Obj(p) => {
            out.push(3);
            for (k, v) in p {
                put_key(k, out);
                encode(v, out);
            }
            out.extend_from_slice(&[0, 0, 9]);
        }
        V::Null => out.push(5),
        V::Undefined => out.push(6),
        V::Ecma(p) => {
            out.push(8);
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            for (k, v) in p {
                put_key(k, out);
                encode(v, out);
            }
            out.extend_from_slice(&[0, 0, 9]);
        }
        V::Arr(a) => {
            out.push(10);
            out.extend_from_slice(&(a.len() as u32).to_be_bytes());
            for v in a {
                encode(v, out);
            }
        }
        V::Date(ms) => {
            out.push(11);
            out.extend_from_slice(&ms.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
    }
}

pub fn encode_all(vs: &[V]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vs {
        encode(v, &mut out);
    }
    out
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if input.len() < n {
        return Err(format!(
            "AMF0 truncated: need {n} bytes, have {}",
            input.len()
        ));
    }
    let (a, b) = input.split_at(n);
    *input = b;
    Ok(a)
}

fn key(input: &mut &[u8]) -> Result<String, String> {
    let l = take(input, 2)?;
    let n = u16::from_be_bytes([l[0], l[1]]) as usize;
    Ok(String::from_utf8_lossy(take(input, n)?).into_owned())
}

fn pairs(input: &mut &[u8], depth: u32) -> Result<Vec<(String, V)>, String> {
    let mut p = Vec::new();
    loop {
        let k = key(input)?;
        if k.is_empty() && input.first() == Some(&9) {
            *input = &input[1..];
            return Ok(p);
        }
        let v = decode_depth(input, depth + 1)?;
        p.push((k, v));
    }
}

pub fn decode(input: &mut &[u8]) -> Result<V, String> {
    decode_depth(input, 0)
}

fn decode_depth(input: &mut &[u8], depth: u32) -> Result<V, String> {
    if depth > 32 {
        return Err("AMF0 nested too deep".into());
    }
    let m = take(input, 1)?[0];
    Ok(match m {
        0 => V::Num(f64::from_be_bytes(take(input, 8)?.try_into().unwrap())),
        1 => V::Bool(take(input, 1)?[0] != 0),
        2 => V::Str(key(input)?),
        3 => V::Obj(pairs(input, depth)?),
        5 => V::Null,
        6 => V::Undefined,
        8 => {
            take(input, 4)?;
            V::Ecma(pairs(input, depth)?)
        }
        10 => {
            let n = u32::from_be_bytes(take(input, 4)?.try_into().unwrap()) as usize;
            if n > input.len() {
                return Err("AMF0 strict array count too large".into());
            }
            let mut a = Vec::new();
            for _ in 0..n {
                a.push(decode_depth(input, depth + 1)?);
            }
            V::Arr(a)
        }
        11 => {
            let ms = f64::from_be_bytes(take(input, 8)?.try_into().unwrap());
            take(input, 2)?;
            V::Date(ms)
        }
        12 => {
            let n = u32::from_be_bytes(take(input, 4)?.try_into().unwrap()) as usize;
            V::Str(String::from_utf8_lossy(take(input, n)?).into_owned())
        }
        m => return Err(format!("AMF0 marker {m} not supported by the test decoder")),
    })
}

pub fn decode_all(mut input: &[u8]) -> Result<Vec<V>, String> {
    let mut out = Vec::new();
    while !input.is_empty() {
        out.push(decode(&mut input)?);
    }
    Ok(out)
}
