// Route schema validation: Ajv with Fastify's defaults, except bodies marked documentedOnly, which
// the handler validates itself (sweep documents: one validator shared with the CLI).
import AjvModule from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

// CJS modules: the class/function is `.default` under some loaders and the module itself under others.
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as typeof AjvModule.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as typeof addFormatsModule.default;

const MARK = "x-validated-by-handler";

/** Marks a body schema as documentation only: the handler validates the raw text. */
export function documentedOnly<T extends object>(schema: T): T {
  return { ...schema, [MARK]: true };
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const ajv = new Ajv({
    coerceTypes: "array",
    useDefaults: true,
    removeAdditional: true,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ({ schema }) => {
    if ((schema as Record<string, unknown>)[MARK]) return (value: unknown) => ({ value });
    return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
  };
}
