/**
 * The GitHub fake. `startFakeGitHub()` serves every feature module; grow it by
 * adding a module (contents, pulls, reviews, check runs…) that registers its
 * routes with `fake.route(...)` using GitHub's own path templates.
 */
import { FakeActions } from "./actions.js";
import { FakeGitHub } from "./server.js";
import { FakeTeams } from "./teams.js";

export interface StartedFakeGitHub {
  fake: FakeGitHub;
  teams: FakeTeams;
  actions: FakeActions;
  url: string;
  close(): Promise<void>;
}

export async function startFakeGitHub(): Promise<StartedFakeGitHub> {
  const fake = new FakeGitHub();
  await fake.start();
  const teams = new FakeTeams(fake);
  const actions = new FakeActions(fake);
  return { fake, teams, actions, url: fake.url, close: () => fake.close() };
}

export { FakeGitHub, type FakeRequest, type FakeResponse, type RouteHandler, type RecordedCall } from "./server.js";
export { FakeTeams } from "./teams.js";
export { FakeActions, type FakeRun } from "./actions.js";
export { githubOpenApi, GitHubOpenApi } from "./openapi.js";
