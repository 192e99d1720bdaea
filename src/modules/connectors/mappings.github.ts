import {
  at,
  eventTypeAllowed,
  type IgnoreReason,
  ignored,
  joinLines,
  MAX_PUSH_COMMITS,
  type MappingContext,
  type MappingResult,
  type MetadataValue,
  num,
  single,
  str,
} from "./mappings.kit.ts";

// ---------------------------------------------------------------------------------------------------
// GitHub

/**
 * GitHub events that are acknowledged without a memory: they carry neither text nor a change a team
 * asks about later (stars, installs, project boards, bookkeeping of the hook itself).
 */
export const GITHUB_SKIPPED_EVENTS: ReadonlySet<string> = new Set([
  "github_app_authorization",
  "installation",
  "installation_repositories",
  "installation_target",
  "label",
  "marketplace_purchase",
  "merge_group",
  "meta",
  "org_block",
  "package",
  "page_build",
  "project",
  "project_card",
  "project_column",
  "projects_v2",
  "projects_v2_item",
  "registry_package",
  "repository_dispatch",
  "repository_import",
  "sponsorship",
  "star",
  "watch",
  "workflow_dispatch",
  "deployment_review",
  "deployment_protection_rule",
]);

/** Check and workflow conclusions worth remembering: the ones someone has to act on. */
const FAILED_CONCLUSIONS = new Set([
  "failure",
  "timed_out",
  "cancelled",
  "action_required",
  "startup_failure",
]);

function withBody(head: string, body: string | undefined): string {
  return body === undefined || body.trim() === "" ? head : `${head}\n\n${body}`;
}

function words(action: string): string {
  return action.replace(/_/g, " ");
}

type GithubFacts = {
  event: string;
  action: string | undefined;
  repo: string | undefined;
  where: string;
  who: string;
  tags: string[];
  entities: string[];
  meta: Record<string, MetadataValue | undefined>;
};

type GithubPart = {
  content: string;
  tags?: string[];
  entities?: string[];
  meta?: Record<string, MetadataValue | undefined>;
};

/** What a handler decides: a memory's parts, or an ignore with its reason. */
type GithubDecision = GithubPart | { ignore: IgnoreReason; detail: string };

const user = (login: string | undefined) => (login ? [`user:${login}`] : []);

function labelNames(payload: unknown, pointer: string): string[] {
  const labels = at(payload, pointer);
  return Array.isArray(labels)
    ? labels.flatMap((l) => {
        const name = str(l, "/name");
        return name ? [`label:${name}`] : [];
      })
    : [];
}

/** The verb and detail line of an issue or pull request action that is not about its text. */
function threadChange(payload: unknown, action: string): { verb: string; detail?: string } {
  switch (action) {
    case "assigned":
      return { verb: `assigned ${str(payload, "/assignee/login") ?? "someone"} to` };
    case "unassigned":
      return { verb: `unassigned ${str(payload, "/assignee/login") ?? "someone"} from` };
    case "labeled":
      return { verb: `added label "${str(payload, "/label/name") ?? "?"}" to` };
    case "unlabeled":
      return { verb: `removed label "${str(payload, "/label/name") ?? "?"}" from` };
    case "milestoned":
      return { verb: `added to milestone "${str(payload, "/milestone/title") ?? "?"}"` };
    case "demilestoned":
      return { verb: `removed from milestone "${str(payload, "/milestone/title") ?? "?"}"` };
    case "review_requested": {
      const reviewer = str(payload, "/requested_reviewer/login") ?? str(payload, "/requested_team/name");
      return { verb: `requested a review from ${reviewer ?? "someone"} on` };
    }
    case "review_request_removed": {
      const reviewer = str(payload, "/requested_reviewer/login") ?? str(payload, "/requested_team/name");
      return { verb: `removed the review request for ${reviewer ?? "someone"} on` };
    }
    case "transferred": {
      const to = str(payload, "/changes/new_repository/full_name");
      return { verb: "transferred", ...(to ? { detail: `Moved to ${to}.` } : {}) };
    }
    case "locked": {
      const reason =
        str(payload, "/issue/active_lock_reason") ?? str(payload, "/pull_request/active_lock_reason");
      return { verb: "locked", ...(reason ? { detail: `Lock reason: ${reason}.` } : {}) };
    }
    case "synchronize": {
      const before = (str(payload, "/before") ?? "").slice(0, 7);
      const after = (str(payload, "/after") ?? "").slice(0, 7);
      return {
        verb: "pushed new commits to",
        ...(after ? { detail: `Head moved ${before || "?"} → ${after}.` } : {}),
      };
    }
    case "converted_to_draft":
      return { verb: "converted to draft" };
    case "ready_for_review":
      return { verb: "marked ready for review" };
    default:
      return { verb: words(action) };
  }
}

/** Issues and pull requests: every action, with the title, and the body where it says something new. */
function githubThread(payload: unknown, f: GithubFacts, kind: "issue" | "pull_request"): GithubDecision {
  const root = kind === "issue" ? "/issue" : "/pull_request";
  const noun = kind === "issue" ? "issue" : "pull request";
  const action = f.action ?? "updated";
  const n = num(payload, `${root}/number`) ?? num(payload, "/number");
  const title = str(payload, `${root}/title`) ?? "";
  const author = str(payload, `${root}/user/login`);
  const merged = at(payload, "/pull_request/merged") === true;
  const stateReason = str(payload, `${root}/state_reason`);
  let verb: string;
  let detail: string | undefined;
  if (action === "closed") {
    verb = merged ? "merged" : stateReason === "not_planned" ? "closed as not planned" : "closed";
  } else if (action === "opened" || action === "edited" || action === "reopened" || action === "deleted") {
    verb = action;
  } else {
    ({ verb, detail } = threadChange(payload, action));
  }
  const subject = `${noun} #${n ?? "?"}`;
  // "added to milestone" reads with the subject first; the rest read "<verb> <subject>".
  const head =
    verb.startsWith("added to") || verb.startsWith("removed from")
      ? `${f.who}: ${subject} in ${f.where} ${verb}: ${title}`
      : `${f.who} ${verb} ${subject} in ${f.where}: ${title}`;
  const body =
    action === "opened" || action === "edited" || action === "deleted"
      ? str(payload, `${root}/body`)
      : undefined;
  const previousTitle = action === "edited" ? str(payload, "/changes/title/from") : undefined;
  const content = withBody(
    joinLines(head, previousTitle && `Previously titled: ${previousTitle}`, detail),
    body,
  );
  return {
    content,
    tags: [
      ...labelNames(payload, `${root}/labels`),
      ...(merged ? ["state:merged"] : []),
      ...(stateReason ? [`state_reason:${stateReason}`] : []),
      ...(at(payload, "/pull_request/draft") === true ? ["draft"] : []),
    ],
    entities: [
      ...user(author),
      ...user(str(payload, "/assignee/login")),
      ...user(str(payload, "/requested_reviewer/login")),
    ],
    meta: {
      number: n,
      title,
      url: str(payload, `${root}/html_url`),
      state: str(payload, `${root}/state`),
      state_reason: stateReason,
      ...(kind === "pull_request"
        ? {
            merged,
            base: str(payload, "/pull_request/base/ref"),
            head: str(payload, "/pull_request/head/ref"),
          }
        : {}),
    },
  };
}

/** Comments of every kind: on issues, pull requests (review comments), commits and discussions. */
function githubComment(payload: unknown, f: GithubFacts): GithubDecision {
  const action = f.action ?? "created";
  const author = str(payload, "/comment/user/login") ?? f.who;
  const body = str(payload, "/comment/body");
  let on: string;
  let number: number | undefined;
  let title: string | undefined;
  switch (f.event) {
    case "issue_comment": {
      number = num(payload, "/issue/number");
      title = str(payload, "/issue/title");
      on = `${at(payload, "/issue/pull_request") !== undefined ? "pull request" : "issue"} #${number ?? "?"}`;
      break;
    }
    case "pull_request_review_comment":
      number = num(payload, "/pull_request/number");
      title = str(payload, "/pull_request/title");
      on = `pull request #${number ?? "?"}`;
      break;
    case "discussion_comment":
      number = num(payload, "/discussion/number");
      title = str(payload, "/discussion/title");
      on = `discussion #${number ?? "?"}`;
      break;
    default: {
      const sha = (str(payload, "/comment/commit_id") ?? "").slice(0, 7);
      on = `commit ${sha || "?"}`;
    }
  }
  const path = str(payload, "/comment/path");
  const line = num(payload, "/comment/line") ?? num(payload, "/comment/position");
  const verb =
    action === "created"
      ? "commented"
      : action === "edited"
        ? "edited a comment"
        : `${words(action)} a comment`;
  const where = path ? ` at ${path}${line !== undefined ? `:${line}` : ""}` : "";
  const head = `${author} ${verb} on ${on} in ${f.where}${title ? ` (${title})` : ""}${where}:`;
  return {
    content: withBody(head, body),
    entities: user(author),
    meta: { number, title, url: str(payload, "/comment/html_url"), path },
  };
}

function githubReview(payload: unknown, f: GithubFacts): GithubDecision {
  const n = num(payload, "/pull_request/number");
  const title = str(payload, "/pull_request/title") ?? "";
  const state = (str(payload, "/review/state") ?? "commented").toLowerCase();
  const reviewer = str(payload, "/review/user/login") ?? f.who;
  let verb: string;
  if (f.action === "dismissed") verb = "had a review dismissed on";
  else if (state === "approved") verb = "approved";
  else if (state === "changes_requested") verb = "requested changes on";
  else verb = f.action === "edited" ? "edited a review of" : "reviewed";
  return {
    content: withBody(
      `${reviewer} ${verb} pull request #${n ?? "?"} in ${f.where}: ${title}`,
      str(payload, "/review/body"),
    ),
    tags: [`review:${state}`],
    entities: user(reviewer),
    meta: { number: n, title, url: str(payload, "/review/html_url"), review_state: state },
  };
}

function githubReviewThread(payload: unknown, f: GithubFacts): GithubDecision {
  const n = num(payload, "/pull_request/number");
  const title = str(payload, "/pull_request/title") ?? "";
  const comments = at(payload, "/thread/comments");
  const list = Array.isArray(comments) ? comments : [];
  const path = list.length > 0 ? str(list[0], "/path") : undefined;
  const lines = list
    .slice(0, 20)
    .map((c) => `${str(c, "/user/login") ?? "someone"}: ${str(c, "/body") ?? ""}`);
  return {
    content: joinLines(
      `${f.who} ${words(f.action ?? "updated")} a review thread on pull request #${n ?? "?"} in ${f.where}: ${title}${path ? ` (${path})` : ""}`,
      ...lines,
    ),
    entities: list.flatMap((c) => user(str(c, "/user/login"))),
    meta: { number: n, title, path, url: str(payload, "/pull_request/html_url") },
  };
}

function githubRelease(payload: unknown, f: GithubFacts): GithubDecision {
  const tag = str(payload, "/release/tag_name");
  const name = str(payload, "/release/name");
  const label = name && name !== tag ? `${name} (${tag ?? "untagged"})` : (tag ?? name ?? "a release");
  const pre = at(payload, "/release/prerelease") === true;
  return {
    content: withBody(
      `${f.who} ${words(f.action ?? "published")} ${pre ? "pre-release" : "release"} ${label} in ${f.where}`,
      f.action === "deleted" ? undefined : str(payload, "/release/body"),
    ),
    tags: [...(tag ? [`tag:${tag}`] : []), ...(pre ? ["prerelease"] : [])],
    entities: user(str(payload, "/release/author/login")),
    meta: { tag, name, url: str(payload, "/release/html_url") },
  };
}

function githubDiscussion(payload: unknown, f: GithubFacts): GithubDecision {
  const action = f.action ?? "updated";
  const n = num(payload, "/discussion/number");
  const title = str(payload, "/discussion/title") ?? "";
  const category = str(payload, "/discussion/category/name");
  let detail: string | undefined;
  let body: string | undefined;
  let verb = words(action);
  switch (action) {
    case "created":
    case "edited":
      body = str(payload, "/discussion/body");
      break;
    case "answered":
      verb = "marked an answer on";
      body = str(payload, "/answer/body");
      detail = `Answer by ${str(payload, "/answer/user/login") ?? "someone"}:`;
      break;
    case "labeled":
    case "unlabeled":
      detail = `Label: ${str(payload, "/label/name") ?? "?"}`;
      break;
    case "category_changed":
      verb = "changed the category of";
      detail = `Category: ${str(payload, "/changes/category/from/name") ?? "?"} → ${category ?? "?"}`;
      break;
    case "transferred":
      detail = `Moved to ${str(payload, "/changes/new_repository/full_name") ?? "another repository"}.`;
      break;
  }
  const head = `${f.who} ${verb} discussion #${n ?? "?"} in ${f.where}${category ? ` [${category}]` : ""}: ${title}`;
  return {
    content: withBody(joinLines(head, detail), body),
    tags: [...labelNames(payload, "/discussion/labels"), ...(category ? [`category:${category}`] : [])],
    entities: [...user(str(payload, "/discussion/user/login")), ...user(str(payload, "/answer/user/login"))],
    meta: { number: n, title, url: str(payload, "/discussion/html_url"), category },
  };
}

function refName(ref: string): { kind: "branch" | "tag" | "ref"; name: string } {
  if (ref.startsWith("refs/heads/")) return { kind: "branch", name: ref.slice("refs/heads/".length) };
  if (ref.startsWith("refs/tags/")) return { kind: "tag", name: ref.slice("refs/tags/".length) };
  return { kind: "ref", name: ref };
}

function githubPush(payload: unknown, f: GithubFacts): GithubDecision {
  const ref = str(payload, "/ref") ?? "";
  const { kind, name } = refName(ref);
  const pusher = str(payload, "/pusher/name") ?? f.who;
  const commits = at(payload, "/commits");
  const list = Array.isArray(commits) ? commits : [];
  const refTags = [`${kind}:${name}`];
  const meta = {
    ref,
    before: str(payload, "/before"),
    after: str(payload, "/after"),
    compare: str(payload, "/compare"),
    commits: list.length,
    forced: at(payload, "/forced") === true,
  };
  if (at(payload, "/deleted") === true) {
    return {
      content: `${pusher} deleted ${kind} ${name} in ${f.where}`,
      tags: [...refTags, "action:deleted"],
      meta,
    };
  }
  const created = at(payload, "/created") === true;
  const forced = at(payload, "/forced") === true;
  const lines = list.slice(0, MAX_PUSH_COMMITS).map((c) => {
    const sha = (str(c, "/id") ?? "").slice(0, 7);
    const message = (str(c, "/message") ?? "").split("\n")[0] ?? "";
    const author = str(c, "/author/username") ?? str(c, "/author/name");
    return `- ${sha} ${message}${author ? ` (${author})` : ""}`;
  });
  if (list.length > MAX_PUSH_COMMITS) lines.push(`- … and ${list.length - MAX_PUSH_COMMITS} more`);
  let head: string;
  if (kind === "tag") {
    const sha = (str(payload, "/after") ?? "").slice(0, 7);
    head = `${pusher} ${created ? "pushed new tag" : "moved tag"} ${name} in ${f.where}${sha ? ` at ${sha}` : ""}`;
  } else if (list.length === 0) {
    head = `${pusher} ${created ? "created" : "updated"} ${kind} ${name} in ${f.where}`;
  } else {
    const count = list.length === 1 ? "1 commit" : `${list.length} commits`;
    head = `${pusher} ${forced ? "force-pushed" : "pushed"} ${count} to ${created ? `new ${kind} ` : ""}${name} in ${f.where}:`;
  }
  const authors = list.flatMap((c) => user(str(c, "/author/username")));
  return {
    content: joinLines(head, ...lines),
    tags: [...refTags, ...(created ? ["action:created"] : []), ...(forced ? ["forced"] : [])],
    entities: authors,
    meta,
  };
}

function githubRef(payload: unknown, f: GithubFacts): GithubDecision {
  const refType = str(payload, "/ref_type") ?? "ref";
  const ref = str(payload, "/ref") ?? "?";
  const verb = f.event === "create" ? "created" : "deleted";
  return {
    content: withBody(
      `${f.who} ${verb} ${refType} ${ref} in ${f.where}`,
      f.event === "create" ? str(payload, "/description") : undefined,
    ),
    tags: [`${refType}:${ref}`],
    meta: { ref, ref_type: refType },
  };
}

/** Checks, suites, workflow runs and jobs, commit statuses: remembered when they fail. */
function githubRun(payload: unknown, f: GithubFacts): GithubDecision {
  const root =
    f.event === "check_run"
      ? "/check_run"
      : f.event === "check_suite"
        ? "/check_suite"
        : f.event === "workflow_run"
          ? "/workflow_run"
          : "/workflow_job";
  if (f.event === "status") {
    const state = str(payload, "/state") ?? "";
    if (state !== "failure" && state !== "error")
      return { ignore: "ACTION_IGNORED", detail: `status.${state}` };
    const sha = (str(payload, "/sha") ?? "").slice(0, 7);
    return {
      content: joinLines(
        `Commit status ${str(payload, "/context") ?? "?"} is ${state} for ${sha} in ${f.where}`,
        str(payload, "/description"),
      ),
      tags: [`conclusion:${state}`],
      meta: { state, sha: str(payload, "/sha"), url: str(payload, "/target_url") },
    };
  }
  const conclusion = str(payload, `${root}/conclusion`);
  if (f.action !== "completed" || conclusion === undefined || !FAILED_CONCLUSIONS.has(conclusion)) {
    return {
      ignore: "ACTION_IGNORED",
      detail: `${f.event}.${f.action ?? "?"}${conclusion ? ` ${conclusion}` : ""}`,
    };
  }
  const name =
    str(payload, `${root}/name`) ??
    str(payload, `${root}/workflow_name`) ??
    str(payload, `${root}/app/name`) ??
    f.event.replace(/_/g, " ");
  const branch = str(payload, `${root}/head_branch`) ?? str(payload, `${root}/check_suite/head_branch`);
  const sha = (str(payload, `${root}/head_sha`) ?? "").slice(0, 7);
  const noun = f.event.replace(/_/g, " ");
  return {
    content: joinLines(
      `${noun} "${name}" ${words(conclusion)} in ${f.where}${branch ? ` on ${branch}` : ""}${sha ? ` at ${sha}` : ""}`,
      str(payload, `${root}/display_title`),
      str(payload, `${root}/output/title`),
      str(payload, `${root}/output/summary`),
    ),
    tags: [`conclusion:${conclusion}`, ...(branch ? [`branch:${branch}`] : [])],
    meta: { conclusion, name, branch, url: str(payload, `${root}/html_url`) },
  };
}

function githubAlert(payload: unknown, f: GithubFacts): GithubDecision {
  const action = words(f.action ?? "updated");
  switch (f.event) {
    case "code_scanning_alert": {
      const rule = str(payload, "/alert/rule/description") ?? str(payload, "/alert/rule/id") ?? "?";
      const severity =
        str(payload, "/alert/rule/security_severity_level") ?? str(payload, "/alert/rule/severity");
      const path = str(payload, "/alert/most_recent_instance/location/path");
      return {
        content: joinLines(
          `Code scanning alert #${num(payload, "/alert/number") ?? "?"} ${action} in ${f.where}: ${rule}`,
          severity && `Severity: ${severity}`,
          path && `Location: ${path}`,
          str(payload, "/alert/most_recent_instance/message/text"),
          str(payload, "/alert/tool/name") && `Tool: ${str(payload, "/alert/tool/name")}`,
        ),
        tags: [...(severity ? [`severity:${severity}`] : [])],
        meta: { number: num(payload, "/alert/number"), url: str(payload, "/alert/html_url"), severity },
      };
    }
    case "dependabot_alert": {
      const pkg = str(payload, "/alert/dependency/package/name") ?? "?";
      const eco = str(payload, "/alert/dependency/package/ecosystem");
      const severity =
        str(payload, "/alert/security_vulnerability/severity") ??
        str(payload, "/alert/security_advisory/severity");
      const fixed = str(payload, "/alert/security_vulnerability/first_patched_version/identifier");
      return {
        content: joinLines(
          `Dependabot alert #${num(payload, "/alert/number") ?? "?"} ${action} in ${f.where}: ${pkg}${eco ? ` (${eco})` : ""}`,
          str(payload, "/alert/security_advisory/summary"),
          severity && `Severity: ${severity}`,
          fixed && `Fixed in ${fixed}`,
        ),
        tags: [...(severity ? [`severity:${severity}`] : []), `package:${pkg}`],
        meta: {
          number: num(payload, "/alert/number"),
          url: str(payload, "/alert/html_url"),
          severity,
          package: pkg,
        },
      };
    }
    case "repository_vulnerability_alert": {
      const pkg = str(payload, "/alert/affected_package_name") ?? "?";
      const severity = str(payload, "/alert/severity");
      return {
        content: joinLines(
          `Vulnerability alert ${action} in ${f.where}: ${pkg} ${str(payload, "/alert/affected_range") ?? ""}`.trim(),
          str(payload, "/alert/external_identifier"),
          severity && `Severity: ${severity}`,
          str(payload, "/alert/fixed_in") && `Fixed in ${str(payload, "/alert/fixed_in")}`,
        ),
        tags: [...(severity ? [`severity:${severity}`] : []), `package:${pkg}`],
        meta: { severity, package: pkg, ghsa: str(payload, "/alert/ghsa_id") },
      };
    }
    case "secret_scanning_alert":
      return {
        content: `Secret scanning alert #${num(payload, "/alert/number") ?? "?"} ${action} in ${f.where}: ${str(payload, "/alert/secret_type_display_name") ?? str(payload, "/alert/secret_type") ?? "a secret"}`,
        meta: { number: num(payload, "/alert/number"), url: str(payload, "/alert/html_url") },
      };
    default: {
      const ghsa = str(payload, "/security_advisory/ghsa_id");
      const severity = str(payload, "/security_advisory/severity");
      return {
        content: withBody(
          joinLines(
            `Security advisory ${ghsa ?? ""} ${action}: ${str(payload, "/security_advisory/summary") ?? ""}`.replace(
              / {2,}/g,
              " ",
            ),
            severity && `Severity: ${severity}`,
          ),
          str(payload, "/security_advisory/description"),
        ),
        tags: [...(severity ? [`severity:${severity}`] : []), ...(ghsa ? [`advisory:${ghsa}`] : [])],
        meta: { ghsa, severity },
      };
    }
  }
}

/** Repository, membership, team and organisation changes: who now has (or lost) access to what. */
function githubAccess(payload: unknown, f: GithubFacts): GithubDecision {
  const action = words(f.action ?? "changed");
  const org = str(payload, "/organization/login");
  switch (f.event) {
    case "repository": {
      const from =
        str(payload, "/changes/repository/name/from") ??
        str(payload, "/changes/owner/from/user/login") ??
        str(payload, "/changes/owner/from/organization/login");
      return {
        content: withBody(
          joinLines(`${f.who} ${action} repository ${f.where}`, from && `Previously: ${from}`),
          str(payload, "/repository/description"),
        ),
        meta: { visibility: str(payload, "/repository/visibility") },
      };
    }
    case "public":
      return { content: `${f.who} made repository ${f.where} public` };
    case "fork": {
      const forkee = str(payload, "/forkee/full_name") ?? "?";
      return {
        content: `${f.who} forked ${f.where} to ${forkee}`,
        entities: [`repo:${forkee}`],
        meta: { forkee },
      };
    }
    case "member": {
      const member = str(payload, "/member/login") ?? "someone";
      const permission =
        str(payload, "/changes/permission/to") ?? str(payload, "/changes/old_permission/from");
      return {
        content: joinLines(
          `${f.who} ${action} collaborator ${member} ${f.action === "removed" ? "from" : "on"} ${f.where}`,
          permission && `Permission: ${permission}`,
        ),
        entities: user(member),
      };
    }
    case "membership": {
      const member = str(payload, "/member/login") ?? "someone";
      const team = str(payload, "/team/name") ?? "?";
      return {
        content: `${f.who} ${f.action === "removed" ? "removed" : "added"} ${member} ${f.action === "removed" ? "from" : "to"} team ${team}${org ? ` in ${org}` : ""}`,
        tags: [`team:${team}`],
        entities: [...user(member), `team:${team}`],
      };
    }
    case "organization": {
      const member =
        str(payload, "/membership/user/login") ??
        str(payload, "/invitation/login") ??
        str(payload, "/invitation/email");
      const role = str(payload, "/membership/role") ?? str(payload, "/invitation/role");
      return {
        content: joinLines(
          `${f.who}: organization ${org ?? "?"} ${action}${member ? ` (${member})` : ""}`,
          role && `Role: ${role}`,
          str(payload, "/changes/login/from") && `Previously named ${str(payload, "/changes/login/from")}`,
        ),
        entities: [...user(member), ...(org ? [`org:${org}`] : [])],
      };
    }
    case "team":
    case "team_add": {
      const team = str(payload, "/team/name") ?? "?";
      const verb = f.event === "team_add" ? "added to repository" : action;
      const target =
        f.repo && (f.event === "team_add" || f.action?.includes("repository")) ? ` ${f.repo}` : "";
      return {
        content: joinLines(
          `${f.who}: team ${team} ${verb}${target}${org ? ` in ${org}` : ""}`,
          str(payload, "/team/description"),
        ),
        tags: [`team:${team}`],
        entities: [`team:${team}`],
        meta: { permission: str(payload, "/team/permission") },
      };
    }
    case "deploy_key":
      return {
        content: `${f.who} ${action} deploy key "${str(payload, "/key/title") ?? "?"}" on ${f.where}${at(payload, "/key/read_only") === false ? " (read-write)" : ""}`,
      };
    default: {
      const rule = str(payload, "/rule/name") ?? "?";
      return {
        content: `${f.who} ${action} branch protection rule "${rule}" in ${f.where}`,
        tags: [`branch:${rule}`],
      };
    }
  }
}

function githubOther(payload: unknown, f: GithubFacts): GithubDecision {
  switch (f.event) {
    case "milestone":
      return {
        content: withBody(
          `${f.who} ${words(f.action ?? "updated")} milestone "${str(payload, "/milestone/title") ?? "?"}" in ${f.where}${str(payload, "/milestone/due_on") ? ` (due ${str(payload, "/milestone/due_on")})` : ""}`,
          str(payload, "/milestone/description"),
        ),
        meta: { url: str(payload, "/milestone/html_url") },
      };
    case "gollum": {
      const pages = at(payload, "/pages");
      const list = Array.isArray(pages) ? pages.slice(0, 20) : [];
      return {
        content: joinLines(
          `${f.who} changed the wiki of ${f.where}:`,
          ...list.map(
            (p) =>
              `- ${str(p, "/action") ?? "edited"} "${str(p, "/title") ?? str(p, "/page_name") ?? "?"}"${str(p, "/summary") ? `: ${str(p, "/summary")}` : ""}`,
          ),
        ),
      };
    }
    case "deployment": {
      const env = str(payload, "/deployment/environment") ?? "?";
      const ref = str(payload, "/deployment/ref");
      return {
        content: joinLines(
          `${f.who} deployed ${ref ?? (str(payload, "/deployment/sha") ?? "").slice(0, 7)} of ${f.where} to ${env}`,
          str(payload, "/deployment/description"),
        ),
        tags: [`environment:${env}`],
        meta: { environment: env, ref },
      };
    }
    default: {
      // deployment_status
      const state = str(payload, "/deployment_status/state") ?? "";
      if (!FAILED_CONCLUSIONS.has(state) && state !== "error") {
        return { ignore: "ACTION_IGNORED", detail: `deployment_status.${state}` };
      }
      const env =
        str(payload, "/deployment_status/environment") ?? str(payload, "/deployment/environment") ?? "?";
      return {
        content: joinLines(
          `Deployment of ${f.where} to ${env} ended in ${state}`,
          str(payload, "/deployment_status/description"),
        ),
        tags: [`environment:${env}`, `conclusion:${state}`],
        meta: { environment: env, state, url: str(payload, "/deployment_status/target_url") },
      };
    }
  }
}

const GITHUB_HANDLERS: Readonly<Record<string, (payload: unknown, f: GithubFacts) => GithubDecision>> = {
  issues: (p, f) => githubThread(p, f, "issue"),
  pull_request: (p, f) => githubThread(p, f, "pull_request"),
  issue_comment: githubComment,
  pull_request_review_comment: githubComment,
  commit_comment: githubComment,
  discussion_comment: githubComment,
  pull_request_review: githubReview,
  pull_request_review_thread: githubReviewThread,
  release: githubRelease,
  discussion: githubDiscussion,
  push: githubPush,
  create: githubRef,
  delete: githubRef,
  check_run: githubRun,
  check_suite: githubRun,
  workflow_run: githubRun,
  workflow_job: githubRun,
  status: githubRun,
  code_scanning_alert: githubAlert,
  dependabot_alert: githubAlert,
  repository_vulnerability_alert: githubAlert,
  secret_scanning_alert: githubAlert,
  security_advisory: githubAlert,
  repository: githubAccess,
  public: githubAccess,
  fork: githubAccess,
  member: githubAccess,
  membership: githubAccess,
  organization: githubAccess,
  team: githubAccess,
  team_add: githubAccess,
  deploy_key: githubAccess,
  branch_protection_rule: githubAccess,
  milestone: githubOther,
  gollum: githubOther,
  deployment: githubOther,
  deployment_status: githubOther,
};

/** The GitHub events that can become memories (some only for certain actions or conclusions). */
export const GITHUB_MAPPED_EVENTS: readonly string[] = Object.keys(GITHUB_HANDLERS);

/**
 * GitHub webhooks. `event` is the `X-GitHub-Event` header. Every memory says who did what where, with
 * the human text the payload carries (titles, bodies, comments, release notes, reasons). Tags:
 * `github`, `repo:<full_name>`, `event:<event>`, `action:<action>` and event-specific ones
 * (`label:`, `branch:`, `tag:`, `severity:`, `conclusion:`); entities: `user:<login>`, `repo:<full_name>`.
 */
export function mapGithub(event: string | undefined, payload: unknown, ctx: MappingContext): MappingResult {
  if (event === undefined) return ignored("EVENT_UNSUPPORTED", "no X-GitHub-Event header");
  if (event === "ping") return ignored("PING");
  if (!eventTypeAllowed(event, ctx.mapping.eventTypes)) return ignored("EVENT_TYPE_NOT_ALLOWED", event);
  const handler = GITHUB_HANDLERS[event];
  if (handler === undefined || !Object.hasOwn(GITHUB_HANDLERS, event))
    return ignored("EVENT_UNSUPPORTED", event);

  const repo = str(payload, "/repository/full_name");
  const sender = str(payload, "/sender/login");
  const action = str(payload, "/action");
  const facts: GithubFacts = {
    event,
    action,
    repo,
    where: repo ?? str(payload, "/organization/login") ?? "a repository",
    who: sender ?? "someone",
    tags: [
      "github",
      ...(repo ? [`repo:${repo}`] : []),
      `event:${event}`,
      ...(action ? [`action:${action}`] : []),
    ],
    entities: [...user(sender), ...(repo ? [`repo:${repo}`] : [])],
    meta: { event, action, repository: repo, sender },
  };
  const decision = handler(payload, facts);
  if ("ignore" in decision) return ignored(decision.ignore, decision.detail);
  return single(
    ctx,
    payload,
    {
      content: decision.content,
      tags: [...facts.tags, ...(decision.tags ?? [])],
      entities: [...facts.entities, ...(decision.entities ?? [])],
      metadata: { ...facts.meta, ...(decision.meta ?? {}) },
    },
    "event",
  );
}
