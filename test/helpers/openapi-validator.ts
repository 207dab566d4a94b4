import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = any;

// CommonJS packages: under NodeNext their default import is module.exports, the class is `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

/** A JSON pointer segment: `~` and `/` escaped (RFC 6901). */
const pointerSegment = (segment: string): string => segment.replaceAll('~', '~0').replaceAll('/', '~1');

export interface Answer {
  status: number;
  body: unknown;
}

/**
 * Real answers checked against the served OpenAPI document: the status must be documented for the
 * operation, and the body must validate against that response's schema (OpenAPI 3.0 schemas are
 * JSON Schema plus `nullable` and `example`, both of which Ajv is told about).
 */
export class DocumentedAnswers {
  private readonly ajv;
  /** How many answers were checked, to show that a test did check some. */
  checked = 0;

  constructor(private readonly doc: Json) {
    this.ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
    addFormats(this.ajv);
    // The document's own keys (never validation keywords) and OpenAPI's annotations.
    this.ajv.addVocabulary(['openapi', 'info', 'servers', 'tags', 'paths', 'components', 'security', 'example']);
    this.ajv.addSchema({ ...doc, $id: 'openapi.json' });
  }

  /** The route (`post /api/v1/login`, path templates as documented) of an answer. */
  problems(route: string, answer: Answer): string[] {
    const [method, path] = route.split(' ') as [string, string];
    const operation = this.doc.paths[path]?.[method];
    if (!operation) return [`${route} is not documented`];
    const response = operation.responses[String(answer.status)];
    if (!response) return [`${route} answered ${answer.status}, which is not documented`];
    this.checked++;
    const content = response.content?.['application/json'];
    if (!content) return answer.body === undefined ? [] : [`${route} ${answer.status} has a body the document does not describe`];
    if (!content.schema) return [`${route} ${answer.status} has no schema`];
    const pointer = ['paths', path, method, 'responses', String(answer.status), 'content', 'application/json', 'schema']
      .map(pointerSegment)
      .join('/');
    const validate = this.ajv.getSchema(`openapi.json#/${pointer}`);
    if (!validate) return [`${route} ${answer.status}: the schema could not be compiled`];
    if (validate(answer.body)) return [];
    return (validate.errors ?? []).map(
      (error) => `${route} ${answer.status}: ${error.instancePath || '(body)'} ${error.message} ${JSON.stringify(error.params)}`,
    );
  }
}
