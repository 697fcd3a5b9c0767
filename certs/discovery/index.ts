export { findArchiveKey, type ArchiveKey } from "./archive.js";
export { parseAddress, type ParsedAddress } from "./address.js";
export { KeyDiscovery, type DiscoveryOptions, type DiscoveryResult } from "./discovery.js";
export { LookupError, type LookupErrorCode } from "./errors.js";
export { httpGet, type HttpOptions, type ResolveHost } from "./http.js";
export { fetchKeyserver, keyserverUrl, type KeyserverProtocol } from "./keyserver.js";
export { fetchWkd, wkdUrls } from "./wkd.js";
export { zbase32 } from "./zbase32.js";
