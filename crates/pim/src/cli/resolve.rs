//! Principals and roles given by name or id, and the names shown in place of ids.

use std::collections::HashMap;

use pim_api::{Principal, PrincipalId, RoleDefinition, RoleId};
use pim_client::Client;

/// The principal named or identified by `s` (`GET /principals/{idOrName}`).
pub async fn principal(client: &Client, s: &str) -> anyhow::Result<Principal> {
    Ok(client.get_principal(s.trim()).await?)
}

/// The id of the principal named or identified by `s`; an id is used as given, without a lookup.
pub async fn principal_id(client: &Client, s: &str) -> anyhow::Result<PrincipalId> {
    match s.trim().parse::<PrincipalId>() {
        Ok(id) => Ok(id),
        Err(_) => Ok(principal(client, s).await?.id),
    }
}

/// The role named or identified by `s` (`GET /roles/{idOrName}`).
pub async fn role(client: &Client, s: &str) -> anyhow::Result<RoleDefinition> {
    Ok(client.get_role(s.trim()).await?)
}

/// The id of the role named or identified by `s`; an id is used as given, without a lookup.
pub async fn role_id(client: &Client, s: &str) -> anyhow::Result<RoleId> {
    match s.trim().parse::<RoleId>() {
        Ok(id) => Ok(id),
        Err(_) => Ok(role(client, s).await?.id),
    }
}

/// Names for the ids in a listing, looked up once each; an id that cannot be looked up is shown as it is.
pub struct Names<'a> {
    client: &'a Client,
    principals: HashMap<PrincipalId, String>,
    roles: HashMap<RoleId, String>,
    roles_loaded: bool,
}

impl<'a> Names<'a> {
    /// An empty cache over `client`.
    pub fn new(client: &'a Client) -> Names<'a> {
        Names { client, principals: HashMap::new(), roles: HashMap::new(), roles_loaded: false }
    }

    /// Remembers a principal already at hand.
    pub fn know_principal(&mut self, p: &Principal) {
        self.principals.insert(p.id, p.name.clone());
    }

    /// The principal's name, or its id.
    pub async fn principal(&mut self, id: PrincipalId) -> String {
        if let Some(n) = self.principals.get(&id) {
            return n.clone();
        }
        let name = match self.client.get_principal(&id.to_string()).await {
            Ok(p) => p.name,
            Err(_) => id.to_string(),
        };
        self.principals.insert(id, name.clone());
        name
    }

    /// The optional principal's name, or empty.
    pub async fn opt_principal(&mut self, id: Option<PrincipalId>) -> String {
        match id {
            Some(id) => self.principal(id).await,
            None => String::new(),
        }
    }

    /// The role's name, or its id.
    pub async fn role(&mut self, id: RoleId) -> String {
        if !self.roles_loaded {
            self.roles_loaded = true;
            if let Ok(page) = self.client.list_roles().await {
                self.roles.extend(page.items.into_iter().map(|r| (r.id, r.name)));
            }
        }
        if let Some(n) = self.roles.get(&id) {
            return n.clone();
        }
        let name = match self.client.get_role(&id.to_string()).await {
            Ok(r) => r.name,
            Err(_) => id.to_string(),
        };
        self.roles.insert(id, name.clone());
        name
    }

    /// The optional role's name, or empty.
    pub async fn opt_role(&mut self, id: Option<RoleId>) -> String {
        match id {
            Some(id) => self.role(id).await,
            None => String::new(),
        }
    }
}
