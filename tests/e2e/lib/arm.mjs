// arm.mjs -- ARM resource ids as cofferd and keyvaultd write them, for
// assertions: the default subscription and group (where the legacy paths
// /identities/NAME, /registries/NAME and /vaults/NAME create, and where a
// data dir from before resource groups is migrated), and armId() for any.
export const DEFAULT_SUB = '00000000-0000-0000-0000-000000000000';
export const DEFAULT_GROUP = 'default';
export const TYPES = {
  identity: 'Microsoft.ManagedIdentity/userAssignedIdentities',
  registry: 'Microsoft.ContainerRegistry/registries',
  vault: 'Microsoft.KeyVault/vaults',
};

// /subscriptions/SUB/resourceGroups/GROUP/providers/TYPE/NAME
export const armId = (kind, name, group = DEFAULT_GROUP, sub = DEFAULT_SUB) =>
  `/subscriptions/${sub}/resourceGroups/${group}/providers/${TYPES[kind]}/${name}`;
