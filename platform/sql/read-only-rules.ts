import type { AstNode } from './statement-ast.ts'

/**
 * The read-only rules, applied to ClickHouse's parse of one statement. A statement passes
 * only when every node is allowed: reads of SpendGuard's own tables, no output files, no
 * SETTINGS, no table functions, no function that reaches files, URLs, processes, other
 * servers, dictionaries or the server's own configuration.
 */

/** Table functions ClickHouse 25-26 know (system.table_functions), lower-cased. */
const KNOWN_TABLE_FUNCTIONS = [
  'azureblobstorage',
  'azureblobstoragecluster',
  'cluster',
  'clusterallreplicas',
  'cosn',
  'deltalake',
  'deltalakeazure',
  'deltalakeazurecluster',
  'deltalakecluster',
  'deltalakelocal',
  'deltalakes3',
  'deltalakes3cluster',
  'dictionary',
  'eval',
  'executable',
  'file',
  'filecluster',
  'filesystem',
  'fuzzjson',
  'fuzzquery',
  'gcs',
  'generaterandom',
  'hdfs',
  'hdfscluster',
  'hudi',
  'hudicluster',
  'iceberg',
  'icebergazure',
  'icebergazurecluster',
  'icebergcluster',
  'iceberghdfs',
  'iceberghdfscluster',
  'iceberglocal',
  'iceberglocalcluster',
  'iceberg3',
  'icebergs3',
  'icebergs3cluster',
  'input',
  'jdbc',
  'loop',
  'merge',
  'mergetreeanalyzeindexes',
  'mergetreeanalyzeindexesuuid',
  'mergetreeindex',
  'mergetreeprojection',
  'mergetreetextindex',
  'mongodb',
  'mysql',
  'odbc',
  'oss',
  'paimon',
  'postgresql',
  'prometheusquery',
  'prometheusqueryrange',
  'redis',
  'remote',
  'remotesecure',
  's3',
  's3cluster',
  'sqlite',
  'timeseriesdata',
  'timeseriesmetrics',
  'timeseriessamples',
  'timeseriesselector',
  'timeseriestags',
  'url',
  'urlcluster',
  'view',
  'viewexplain',
  'viewifpermitted',
  'ytsaurus',
]

/** Scalar functions that read outside the query's tables or reveal the server's set-up. */
const OUTSIDE_FUNCTIONS = [
  'file',
  'filesystemavailable',
  'filesystemcapacity',
  'filesystemunreserved',
  'joinget',
  'joingetornull',
  'hascolumnintable',
  'getmacro',
  'getserversetting',
  'getmergetreesetting',
  'getclienthttpheader',
  'catboostevaluate',
  'naivebayesclassifier',
  'naivebayesclassifierwithallprobs',
  'naivebayesclassifierwithprob',
  'addresstoline',
  'addresstolinewithinlines',
  'addresstosymbol',
  'demangle',
  'hostname',
  'fullhostname',
  'serveruuid',
  'getserverport',
  'tcpport',
  'shardnum',
  'shardcount',
  'zookeepersessionuptime',
  'sleep',
  'sleepeachrow',
  'fuzzquery',
  'currentprofiles',
  'currentroles',
  'enabledprofiles',
  'enabledroles',
  'defaultprofiles',
  'defaultroles',
]

/** Function names the rules refuse wherever they appear. */
export function deniedFunctionNames(tableFunctionsOfEngine: readonly string[] = []): Set<string> {
  const denied = new Set([...KNOWN_TABLE_FUNCTIONS, ...OUTSIDE_FUNCTIONS])
  for (const name of tableFunctionsOfEngine) denied.add(name.toLowerCase())
  // `format` is both a table function and the string-formatting function; only the former is
  // refused, by its position.
  denied.delete('format')
  // Harmless generators of numbers and constants.
  for (const name of ['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'values', 'null', 'primes'])
    denied.delete(name)
  return denied
}

const READ_STATEMENTS = new Set(['SelectWithUnionQuery', 'SelectIntersectExceptQuery'])
/** Parts of a SELECT whose type names also end in "Query". */
const SELECT_PARTS = new Set(['SelectQuery', 'TablesInSelectQuery'])
const IN_FUNCTIONS = new Set([
  'in',
  'notin',
  'globalin',
  'globalnotin',
  'nullin',
  'notnullin',
  'globalnullin',
  'globalnotnullin',
])

export interface RuleContext {
  /** SpendGuard's database: a table may be named bare or as `<database>.<table>` only. */
  database: string
  deniedFunctions: ReadonlySet<string>
}

/** What the statement asks for besides its rows. */
export interface StatementShape {
  /** The `FORMAT` the statement names, if any. */
  format?: string
}

/** Why a statement is refused: one sentence a user can act on. */
export class RefusedStatement extends Error {}

function refuse(message: string): never {
  throw new RefusedStatement(message)
}

function checkTableName(name: string, context: RuleContext): void {
  const unquoted = name.replace(/`/g, '')
  const dot = unquoted.indexOf('.')
  if (dot !== -1 && unquoted.slice(0, dot) !== context.database) {
    refuse(`only SpendGuard's own tables can be read; "${unquoted}" is outside them`)
  }
}

/** Checks every node below a statement. */
function checkNode(node: AstNode, parent: AstNode | undefined, context: RuleContext): void {
  switch (node.type) {
    case 'Set':
      refuse('SETTINGS are not allowed in a read-only query (limits are set by SpendGuard)')
      break
    case 'TableIdentifier':
      checkTableName(node.name, context)
      break
    case 'Function': {
      const name = node.name.toLowerCase()
      if (parent?.type === 'TableExpression')
        refuse(`table functions are not allowed ("${node.name}"): query SpendGuard's tables`)
      if (context.deniedFunctions.has(name) || name.startsWith('dict'))
        refuse(`function "${node.name}" is not allowed: it reaches outside SpendGuard's tables`)
      if (IN_FUNCTIONS.has(name)) {
        const right = node.children[0]?.children[1]
        if (right?.type === 'Identifier') checkTableName(right.name, context)
      }
      break
    }
    default:
      if (
        node.type.endsWith('Query') &&
        !READ_STATEMENTS.has(node.type) &&
        !SELECT_PARTS.has(node.type)
      )
        refuse(`only reads are allowed; found ${node.type}`)
  }
  for (const child of node.children) checkNode(child, node, context)
}

/** The children after a statement's body: an output file, SETTINGS, a FORMAT. */
function checkTrailer(trailer: readonly AstNode[]): StatementShape {
  const shape: StatementShape = {}
  trailer.forEach((node, i) => {
    if (node.type === 'Identifier' && i === trailer.length - 1) shape.format = node.name
    else if (node.type === 'Set') refuse('SETTINGS are not allowed in a read-only query')
    else if (node.type === 'Literal')
      refuse('INTO OUTFILE is not allowed: results are returned, never written to files')
    else refuse(`only reads are allowed; found ${node.type}`)
  })
  return shape
}

/**
 * Checks the parse of one statement; returns its shape or throws RefusedStatement. Allowed:
 * SELECT (with WITH, UNION, INTERSECT, EXCEPT), EXPLAIN of those, DESCRIBE and SHOW CREATE
 * TABLE of SpendGuard's tables, SHOW TABLES.
 */
export function checkStatement(root: AstNode, context: RuleContext): StatementShape {
  switch (root.type) {
    case 'SelectWithUnionQuery':
    case 'SelectIntersectExceptQuery': {
      const [body, ...trailer] = root.children
      if (body) checkNode(body, root, context)
      return checkTrailer(trailer)
    }
    case 'Explain': {
      const [inner, ...trailer] = root.children
      if (!inner) refuse('EXPLAIN needs a statement')
      if (inner.type === 'Set') refuse('EXPLAIN settings are not allowed')
      checkStatement(inner, context)
      return checkTrailer(trailer)
    }
    case 'DescribeQuery': {
      const [table, ...trailer] = root.children
      if (table) checkNode(table, root, context)
      return checkTrailer(trailer)
    }
    case 'ShowCreateTableQuery': {
      // The line names `[database] table`; its children are those names, then a FORMAT.
      const parts = root.name.split(' ').filter(Boolean)
      if (parts.length === 0) refuse('SHOW CREATE needs a table name')
      if (parts.length === 2) checkTableName(`${parts[0]}.${parts[1]}`, context)
      return checkTrailer(root.children.slice(parts.length))
    }
    case 'ShowTables':
      // SHOW TABLES FROM <database> or LIKE ... would carry children; only the plain form lists
      // SpendGuard's own tables.
      if (root.children.length > 0)
        refuse("only a plain SHOW TABLES is allowed (it lists SpendGuard's tables)")
      return {}
    default:
      return refuse(
        `only SELECT, WITH, SHOW, DESCRIBE and EXPLAIN reach the audit, not ${root.type.replace(/Query$/, '').toUpperCase()}`,
      )
  }
}
