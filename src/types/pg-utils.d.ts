// node-postgres's own value serializer (JS values to the text the server parses), which a
// Submittable needs to bind parameters exactly as client.query does; it has no published typings.
declare module 'pg/lib/utils.js' {
  const utils: { prepareValue(value: unknown): unknown };
  export default utils;
}
