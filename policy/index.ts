export type * from "./types.js";
export { PlaceholderPolicy, isValidSsn } from "./placeholder.js";
