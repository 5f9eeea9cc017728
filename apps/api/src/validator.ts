// Route schema validation: Ajv with Fastify's defaults, except bodies marked documentedOnly, which
// the handler validates itself (sweep documents: one validator shared with the CLI).
import AjvModule from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifySchemaCompiler, FastifySerializerCompiler } from "fastify";

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

/**
 * A serializer that checks each response against its schema before sending it (JSON.stringify,
 * then Ajv on the parsed value, so Dates are checked as the strings they become). A mismatch,
 * such as a field the schema does not declare, throws: the request fails with 500 and the log
 * names the route and the field.
 */
export function createStrictSerializerCompiler(): FastifySerializerCompiler<unknown> {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ({ schema, method, url, httpStatus }) => {
    const validate = ajv.compile(schema as object);
    return (data: unknown) => {
      const json = JSON.stringify(data);
      if (!validate(json === undefined ? undefined : JSON.parse(json))) {
        const why = (validate.errors ?? [])
          .slice(0, 5)
          .map(
            (e) =>
              `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` "${e.params.additionalProperty}"` : ""}`,
          )
          .join("; ");
        throw new Error(`response of ${method} ${url} (${httpStatus}) does not match its schema: ${why}`);
      }
      return json;
    };
  };
}
