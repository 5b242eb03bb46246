/** Types for the one file of swagger-ui-dist we load in Node (the package ships none). */
declare module "swagger-ui-dist/absolute-path.js" {
  /** Absolute path of the directory holding the Swagger UI static files. */
  const getAbsoluteFSPath: () => string;
  export default getAbsoluteFSPath;
}
