import { unusualIdentifiers, withSubqueryNames } from './cte-names.ts'
import { preOrder, type AstNode } from './statement-ast.ts'

/**
 * The read-only rules, applied to ClickHouse's parse of one statement. A statement passes
 * only when every node is allowed: reads of SpendGuard's own tables (an allow-list, so no
 * file, URL or other database can pose as a table), no output files, no SETTINGS, no table
 * functions, no function that reaches files, URLs, processes, other servers, dictionaries or
 * the server's own set-up.
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

/** Scalar functions that read outside the query's tables, write logs, or reveal the host. */
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
  'getsetting',
  'getsettingordefault',
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
  'fqdn',
  'serveruuid',
  'getserverport',
  'tcpport',
  'shardnum',
  'shardcount',
  'zookeepersessionuptime',
  'sleep',
  'sleepeachrow',
  'fuzzquery',
  'logtrace',
  'getoskernelversion',
  'currentprofiles',
  'currentroles',
  'enabledprofiles',
  'enabledroles',
  'defaultprofiles',
  'defaultroles',
  'currentuser',
  'current_user',
  'user',
  'authuser',
  'authenticateduser',
  'session_user',
  'initialqueryid',
  'initial_query_id',
  'queryid',
  'query_id',
  'currentqueryid',
  'current_query_id',
]

/**
 * Function names refused wherever they appear: every table function (in an IN, a table
 * function acts as one), the outside functions, and the table functions the engine itself
 * lists. `format` is refused as a table function by its position only: it is also the
 * string-formatting function.
 */
export function deniedFunctionNames(tableFunctionsOfEngine: readonly string[] = []): Set<string> {
  const denied = new Set([...KNOWN_TABLE_FUNCTIONS, ...OUTSIDE_FUNCTIONS])
  for (const name of tableFunctionsOfEngine) denied.add(name.toLowerCase())
  denied.delete('format')
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
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface RuleContext {
  /** SpendGuard's database: a table may be named bare or as `<database>.<table>`. */
  database: string
  /** The tables of that database: the only tables a statement may read. */
  tables: ReadonlySet<string>
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

/** `ShowGrants` -> `SHOW GRANTS`, for messages. */
function statementName(type: string): string {
  return type
    .replace(/Query$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase()
}

const isWithList = (node: AstNode | undefined): node is AstNode =>
  node?.type === 'ExpressionList' && node.children.some((child) => child.type === 'WithElement')

/** The WITH list of a SELECT: first, or last where the parser copied it into a UNION branch. */
function withListsOf(select: AstNode): AstNode[] {
  const first = select.children[0]
  const last = select.children[select.children.length - 1]
  return [first, last !== first ? last : undefined].filter(isWithList)
}

/** Gives each node of a copied subtree the name of its original. */
function copyNames(copy: AstNode, original: AstNode, names: Map<AstNode, string>): void {
  const name = names.get(original)
  if (name !== undefined) names.set(copy, name)
  copy.children.forEach((child, i) => {
    const twin = original.children[i]
    if (twin) copyNames(child, twin, names)
  })
}

/** The statement a root stands for: EXPLAIN's inner statement, or the root itself. */
function statementOf(root: AstNode): AstNode {
  return root.type === 'Explain' && root.children[0] ? statementOf(root.children[0]) : root
}

/**
 * The statement's WITH subqueries, each with the name its rendering gives it. They are allowed
 * only at the start of the statement: there the parse and the rendering list them in the same
 * order, so each name goes to its own subquery. (Deeper in a statement the parse orders some
 * clauses differently from the text, e.g. INTERPOLATE after LIMIT, which would pair a name
 * with the wrong subquery.) A WITH before a UNION applies to every branch: the parser copies
 * it to the end of the other branches, and those copies take the first branch's names.
 */
function cteNames(root: AstNode, statement: string): Map<AstNode, string> {
  const names = new Map<AstNode, string>()
  const { names: written, recursive } = withSubqueryNames(statement)
  if (recursive) refuse('WITH RECURSIVE is not supported in a read-only query')
  const top = statementOf(root)
  const [first, ...others] =
    top.type === 'SelectWithUnionQuery' ? (top.children[0]?.children ?? []) : []
  const list = first?.type === 'SelectQuery' ? first.children[0] : undefined
  const lists = new Map<AstNode, AstNode>()
  if (isWithList(list)) {
    lists.set(list, list)
    for (const branch of others) {
      const last = branch.children[branch.children.length - 1]
      if (branch.type === 'SelectQuery' && last !== branch.children[0] && isWithList(last))
        lists.set(last, list)
    }
  }
  // Every WITH subquery must be a direct element of one of those lists.
  const placed = new Set([...lists.keys()].flatMap((l) => l.children))
  for (const node of preOrder(root)) {
    if (node.type === 'WithElement' && !placed.has(node))
      refuse(
        'WITH subqueries are allowed only at the start of the statement (WITH name AS (SELECT ...) SELECT ...)',
      )
  }
  if (!isWithList(list)) {
    if (written.length > 0)
      refuse('the names of its WITH subqueries could not be matched to its parse')
    return names
  }
  const elements = list.children.filter((child) => child.type === 'WithElement')
  if (written.length !== elements.length) {
    refuse(
      'the names of its WITH subqueries could not be matched to its parse; write them as WITH name AS (SELECT ...)',
    )
  }
  elements.forEach((element, i) => names.set(element, written[i]!))
  for (const [copy, original] of lists) if (copy !== original) copyNames(copy, original, names)
  return names
}

interface Walk {
  context: RuleContext
  ctes: Map<AstNode, string>
}

function checkTableName(name: string, scope: ReadonlySet<string>, walk: Walk): void {
  const { database, tables } = walk.context
  const bare = name.startsWith(`${database}.`) ? name.slice(database.length + 1) : name
  const unquoted = bare.replace(/^`(.*)`$/, '$1')
  if (tables.has(unquoted) && !unquoted.includes('`')) return
  if (bare === name && scope.has(unquoted)) return
  refuse(
    `only SpendGuard's own tables (${[...tables].sort().join(', ')}) and the statement's WITH subqueries can be read; "${name}" is neither`,
  )
}

/** WITH names a SELECT defines for itself and everything nested in it. */
function namesDefinedBy(select: AstNode, walk: Walk): string[] {
  return withListsOf(select).flatMap((list) =>
    list.children.flatMap((child) => {
      const name = walk.ctes.get(child)
      return name === undefined ? [] : [name]
    }),
  )
}

/** Checks every node below a statement, with the WITH names in scope. */
function checkNode(
  node: AstNode,
  parent: AstNode | undefined,
  scope: ReadonlySet<string>,
  walk: Walk,
): void {
  switch (node.type) {
    case 'Set':
      refuse('SETTINGS are not allowed in a read-only query (limits are set by SpendGuard)')
      break
    case 'SelectQuery': {
      const defined = namesDefinedBy(node, walk)
      if (defined.length === 0) break
      const everything = new Set([...scope, ...defined])
      const lists = new Set(withListsOf(node))
      for (const child of node.children) {
        if (!lists.has(child)) {
          checkNode(child, node, everything, walk)
          continue
        }
        // A WITH subquery sees the ones defined before it, never itself or later ones: a name
        // used inside its own definition resolves to a table (or, on chDB, a file), not to it.
        let visible: ReadonlySet<string> = scope
        for (const element of child.children) {
          checkNode(element, child, visible, walk)
          const name = walk.ctes.get(element)
          if (name !== undefined) visible = new Set([...visible, name])
        }
      }
      return
    }
    case 'TableIdentifier':
      checkTableName(node.name, scope, walk)
      break
    case 'Function': {
      if (!FUNCTION_NAME.test(node.name)) refuse(`a function named "${node.name}" is not allowed`)
      const name = node.name.toLowerCase()
      if (parent?.type === 'TableExpression')
        refuse(`table functions are not allowed ("${node.name}"): query SpendGuard's tables`)
      if (walk.context.deniedFunctions.has(name) || name.startsWith('dict'))
        refuse(`function "${node.name}" is not allowed: it reaches outside SpendGuard's tables`)
      if (IN_FUNCTIONS.has(name)) {
        const right = node.children[0]?.children[1]
        if (right?.type === 'Identifier') checkTableName(right.name, scope, walk)
      }
      break
    }
    default:
      if (
        node.type.endsWith('Query') &&
        !READ_STATEMENTS.has(node.type) &&
        !SELECT_PARTS.has(node.type)
      )
        refuse(`only reads are allowed, not ${statementName(node.type)}`)
  }
  for (const child of node.children) checkNode(child, node, scope, walk)
}

/** The children after a statement's body: an output file, SETTINGS, a FORMAT. */
function checkTrailer(trailer: readonly AstNode[]): StatementShape {
  const shape: StatementShape = {}
  trailer.forEach((node, i) => {
    if (node.type === 'Identifier' && i === trailer.length - 1 && FUNCTION_NAME.test(node.name))
      shape.format = node.name
    else if (node.type === 'Set') refuse('SETTINGS are not allowed in a read-only query')
    else if (node.type === 'Literal')
      refuse('INTO OUTFILE is not allowed: results are returned, never written to files')
    else refuse(`only reads are allowed; found ${node.type}`)
  })
  return shape
}

function checkParsed(root: AstNode, statement: string, walk: Walk): StatementShape {
  const none = new Set<string>()
  switch (root.type) {
    case 'SelectWithUnionQuery':
    case 'SelectIntersectExceptQuery': {
      const [body, ...trailer] = root.children
      if (body) checkNode(body, root, none, walk)
      return checkTrailer(trailer)
    }
    case 'Explain': {
      const [inner, ...trailer] = root.children
      if (!inner) refuse('EXPLAIN needs a statement')
      if (inner.type === 'Set') refuse('EXPLAIN settings are not allowed')
      checkParsed(inner, statement, walk)
      return checkTrailer(trailer)
    }
    case 'DescribeQuery': {
      const [table, ...trailer] = root.children
      if (table) checkNode(table, root, none, walk)
      return checkTrailer(trailer)
    }
    case 'ShowCreateTableQuery': {
      // The line names `[database] table`; the children repeat those names, then a FORMAT.
      const parts = root.name.trim().split(' ')
      const named = root.children.slice(0, parts.length)
      if (
        parts.length > 2 ||
        named.some((child, i) => child.type !== 'Identifier' || child.name !== parts[i])
      )
        refuse("SHOW CREATE TABLE needs one of SpendGuard's table names")
      checkTableName(parts.join('.'), none, walk)
      return checkTrailer(root.children.slice(parts.length))
    }
    case 'ShowTables':
      // SHOW DATABASES, SHOW SETTINGS, SHOW CLUSTERS ... all parse to this node; only the
      // plain SHOW TABLES (SpendGuard's database) is a read of SpendGuard's tables.
      if (statement !== 'SHOW TABLES' || root.children.length > 0)
        refuse(
          "only a plain SHOW TABLES is allowed among SHOW statements (it lists SpendGuard's tables)",
        )
      return {}
    default:
      return refuse(
        `only SELECT, WITH, SHOW TABLES, SHOW CREATE TABLE, DESCRIBE and EXPLAIN reach the audit, not ${statementName(root.type)}`,
      )
  }
}

/**
 * Checks the parse of one statement (`root`) against its single-line rendering by ClickHouse
 * (`statement`); returns its shape or throws RefusedStatement.
 */
export function checkStatement(
  root: AstNode,
  statement: string,
  context: RuleContext,
): StatementShape {
  const unusual = unusualIdentifiers(statement)
  if (unusual.length > 0) {
    refuse(
      `names must be plain (letters, digits, _); "${unusual[0]}" is not: name columns and subqueries plainly, and read SpendGuard's tables by their names`,
    )
  }
  return checkParsed(root, statement, { context, ctes: cteNames(root, statement) })
}
