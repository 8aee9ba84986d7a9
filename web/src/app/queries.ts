// Every operation the gallery sends, with the shapes it reads back.
import { gql } from '@urql/core';

export type AnalysisStatus = 'NOT_REQUESTED' | 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface Analysis {
  status: AnalysisStatus;
  model: string | null;
  error: string | null;
}

export interface FeedImage {
  id: string;
  thumbnailUrl: string;
  width: number;
  height: number;
  description: string | null;
  commentCount: number;
  tags: string[];
  analysis: Analysis;
  owner: { name: string };
}

export interface ImageDetail extends FeedImage {
  url: string;
  contentType: string;
  source: 'UPLOAD' | 'GENERATION' | 'EDIT';
  uploadedAt: string;
  parent: { id: string } | null;
  /** The prompt a generated image was made from. */
  prompt: string | null;
}

export interface Comment {
  id: string;
  text: string;
  createdAt: string;
  author: { name: string };
}

export interface PageInfo {
  endCursor: string | null;
  hasNextPage: boolean;
}

export interface Connection<T> {
  nodes: T[];
  pageInfo: PageInfo;
  totalCount: number;
}

const FEED_IMAGE = gql`
  fragment FeedImage on Image {
    id
    thumbnailUrl
    width
    height
    description
    commentCount
    tags
    analysis {
      status
      model
      error
    }
    owner {
      name
    }
  }
`;

export const VIEWER = gql`
  query Viewer {
    viewer {
      id
      name
      role
    }
  }
`;

export const FEED = gql`
  query Feed(
    $first: Int!
    $after: String
    $filter: ImageFilter
    $orderBy: ImageOrder
    $withCount: Boolean!
  ) {
    images(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      nodes {
        ...FeedImage
      }
      pageInfo {
        endCursor
        hasNextPage
      }
      # Counting every match costs the server more than the page itself on a large
      # feed: asked once, on the first page; later changes are counted here.
      totalCount @include(if: $withCount)
    }
  }
  ${FEED_IMAGE}
`;

export const UPLOAD = gql`
  mutation Upload($file: Upload!) {
    uploadImage(input: { file: $file }) {
      image {
        ...FeedImage
      }
    }
  }
  ${FEED_IMAGE}
`;

/** Fires once per finished analysis; without an id, for every image. */
export const ANALYSIS_COMPLETED = gql`
  subscription AnalysisCompleted($imageId: ID) {
    analysisCompleted(imageId: $imageId) {
      id
      description
      tags
      analysis {
        status
        model
        error
      }
    }
  }
`;

export const IMAGE = gql`
  query Image($id: ID!) {
    image(id: $id) {
      ...FeedImage
      url
      contentType
      source
      uploadedAt
      prompt
      parent {
        id
      }
    }
  }
  ${FEED_IMAGE}
`;

export const COMMENTS = gql`
  query Comments($imageId: ID!, $first: Int!, $after: String) {
    image(id: $imageId) {
      id
      comments(first: $first, after: $after) {
        nodes {
          id
          text
          createdAt
          author {
            name
          }
        }
        pageInfo {
          endCursor
          hasNextPage
        }
        totalCount
      }
    }
  }
`;

export const ADD_COMMENT = gql`
  mutation AddComment($imageId: ID!, $text: String!) {
    addComment(input: { imageId: $imageId, text: $text }) {
      comment {
        id
        text
        createdAt
        author {
          name
        }
      }
    }
  }
`;

export const EDIT_IMAGE = gql`
  mutation EditImage(
    $imageId: ID!
    $instructions: [EditInstruction!]!
    $save: SaveMode!
    $analyze: Boolean! = false
  ) {
    editImage(
      input: { imageId: $imageId, instructions: $instructions, save: $save, analyze: $analyze }
    ) {
      preview
      instructions
      image {
        id
      }
    }
  }
`;

export type ImageSource = 'UPLOAD' | 'GENERATION' | 'EDIT';
export type Role = 'ADMIN' | 'MEMBER';

/** `ImageFilter` as the gallery fills it in. */
export interface ImageFilter {
  search?: string;
  tags?: string[];
  ownerId?: string;
  source?: ImageSource;
  analysisStatus?: AnalysisStatus;
}

export type ImageOrder = 'NEWEST' | 'RELEVANCE';

export const LOGIN = gql`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      token
      apiToken {
        id
      }
    }
  }
`;

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export const API_TOKENS = gql`
  query ApiTokens {
    viewer {
      id
      apiTokens {
        id
        name
        createdAt
        lastUsedAt
      }
    }
  }
`;

export const CREATE_API_TOKEN = gql`
  mutation CreateApiToken($name: String!) {
    createApiToken(input: { name: $name }) {
      token
      apiToken {
        id
        name
        createdAt
        lastUsedAt
      }
    }
  }
`;

export const REVOKE_API_TOKEN = gql`
  mutation RevokeApiToken($id: ID!) {
    revokeApiToken(input: { id: $id }) {
      revokedApiTokenId
    }
  }
`;

export interface User {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  disabled: boolean;
}

const USER = gql`
  fragment UserRow on User {
    id
    name
    role
    createdAt
    disabled
  }
`;

export const USERS = gql`
  query Users($first: Int!, $after: String) {
    users(first: $first, after: $after) {
      nodes {
        ...UserRow
      }
      pageInfo {
        endCursor
        hasNextPage
      }
      totalCount
    }
  }
  ${USER}
`;

export const CREATE_USER = gql`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      user {
        ...UserRow
      }
    }
  }
  ${USER}
`;

export const UPDATE_USER = gql`
  mutation UpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      user {
        ...UserRow
      }
    }
  }
  ${USER}
`;

export const CHANGE_PASSWORD = gql`
  mutation ChangePassword($input: ChangePasswordInput!) {
    changePassword(input: $input) {
      revokedTokenCount
    }
  }
`;

// ---- Usage -----------------------------------------------------------------------------

export type MetricScope = 'VIEWER' | 'GLOBAL' | 'USER';
export type MetricKind = 'API' | 'FUNCTION' | 'FIELD' | 'ERROR';
export type MetricBucket = 'MINUTE' | 'HOUR' | 'DAY';

export interface Metric {
  name: string;
  count: number;
  errorCount: number;
  avgDurationMs: number;
  lastUsedAt: string;
  promptTokens: number;
  completionTokens: number;
}

export interface MetricsSummary {
  totalApiCalls: number;
  totalFunctionCalls: number;
  uniqueUsers: number;
  promptTokens: number;
  completionTokens: number;
}

export interface MetricPoint {
  bucketStart: string;
  count: number;
  errorCount: number;
}

/** Whose figures and over which time: the variables every usage query shares. */
export interface UsageScope {
  scope: MetricScope;
  userId: string | null;
  from: string;
  to: string;
}

export const USAGE = gql`
  query Usage(
    $scope: MetricScope!
    $userId: ID
    $kind: MetricKind!
    $from: DateTime!
    $to: DateTime!
    $first: Int!
  ) {
    metricsSummary(scope: $scope, userId: $userId, from: $from, to: $to) {
      totalApiCalls
      totalFunctionCalls
      uniqueUsers
      promptTokens
      completionTokens
    }
    metrics(scope: $scope, userId: $userId, kind: $kind, from: $from, to: $to, first: $first) {
      nodes {
        name
        count
        errorCount
        avgDurationMs
        lastUsedAt
        promptTokens
        completionTokens
      }
    }
  }
`;

export const METRICS_SERIES = gql`
  query MetricsSeries(
    $name: String!
    $kind: MetricKind!
    $bucket: MetricBucket!
    $scope: MetricScope!
    $userId: ID
    $from: DateTime!
    $to: DateTime!
  ) {
    metricsSeries(
      name: $name
      kind: $kind
      bucket: $bucket
      scope: $scope
      userId: $userId
      from: $from
      to: $to
    ) {
      bucketStart
      count
      errorCount
    }
  }
`;

// ---- Benchmark -------------------------------------------------------------------------

export type BenchmarkStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface BenchmarkRun {
  id: string;
  status: BenchmarkStatus;
  n: number;
  blockSize: number;
  threads: number;
  seconds: number | null;
  gflops: number | null;
  residual: number | null;
  passed: boolean | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  owner: { name: string };
  host: { name: string; cpuModel: string; cores: number } | null;
}

const BENCHMARK_RUN = gql`
  fragment BenchmarkRunFields on BenchmarkRun {
    id
    status
    n
    blockSize
    threads
    seconds
    gflops
    residual
    passed
    error
    createdAt
    finishedAt
    owner {
      name
    }
    host {
      name
      cpuModel
      cores
    }
  }
`;

export const BENCHMARK_RUNS = gql`
  query BenchmarkRuns($first: Int!, $after: String) {
    benchmarkRuns(first: $first, after: $after) {
      nodes {
        ...BenchmarkRunFields
      }
      pageInfo {
        endCursor
        hasNextPage
      }
      totalCount
    }
  }
  ${BENCHMARK_RUN}
`;

export const BENCHMARK_RUN_BY_ID = gql`
  query BenchmarkRun($id: ID!) {
    benchmarkRun(id: $id) {
      ...BenchmarkRunFields
    }
  }
  ${BENCHMARK_RUN}
`;

export const RUN_BENCHMARK = gql`
  mutation RunBenchmark($input: RunBenchmarkInput!) {
    runBenchmark(input: $input) {
      run {
        ...BenchmarkRunFields
      }
    }
  }
  ${BENCHMARK_RUN}
`;

export const BENCHMARK_PROGRESS = gql`
  subscription BenchmarkProgress($runId: ID!) {
    benchmarkProgress(runId: $runId) {
      fraction
      done
      run {
        ...BenchmarkRunFields
      }
    }
  }
  ${BENCHMARK_RUN}
`;

// ---- Generation ----------------------------------------------------------------------

export type GenerationShape = 'SQUARE' | 'PORTRAIT' | 'LANDSCAPE';
export type GenerationStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface Generation {
  id: string;
  prompt: string;
  size: GenerationShape;
  status: GenerationStatus;
  model: string | null;
  error: string | null;
  image: { id: string } | null;
}

const GENERATION = gql`
  fragment Generation on ImageGeneration {
    id
    prompt
    size
    status
    model
    error
    image {
      id
    }
  }
`;

export const GENERATE_IMAGE = gql`
  mutation GenerateImage($input: GenerateImageInput!) {
    generateImage(input: $input) {
      generation {
        ...Generation
      }
    }
  }
  ${GENERATION}
`;

export const GENERATION_QUERY = gql`
  query GenerationStatus($id: ID!) {
    generation(id: $id) {
      ...Generation
    }
  }
  ${GENERATION}
`;

/** Fires once, when the generation succeeds or fails. */
export const GENERATION_COMPLETED = gql`
  subscription GenerationCompleted($id: ID!) {
    generationCompleted(id: $id) {
      ...Generation
    }
  }
  ${GENERATION}
`;

// ---- Edits ---------------------------------------------------------------------------

export type SaveMode = 'NEW_VERSION' | 'REPLACE' | 'PREVIEW';

/** One `EditInstruction` (a one-key object), also the form of `Image.edits`. */
export type EditInstruction =
  | { brightness: number }
  | { contrast: number }
  | { saturation: number }
  | { sharpness: number }
  | { blur: number }
  | { grayscale: true }
  | { rotate: 90 | 180 | 270 }
  | { flip: 'HORIZONTAL' | 'VERTICAL' }
  | { crop: { x: number; y: number; width: number; height: number } }
  | {
      resize: {
        width?: number | null;
        height?: number | null;
        fit?: 'CONTAIN' | 'COVER' | 'FILL';
      };
    };

export interface EditResult {
  preview: string | null;
  instructions: EditInstruction[];
  image: { id: string } | null;
}

export const EDIT_WITH_PROMPT = gql`
  mutation EditImageWithPrompt($imageId: ID!, $prompt: String!, $save: SaveMode!) {
    editImageWithPrompt(input: { imageId: $imageId, prompt: $prompt, save: $save }) {
      preview
      instructions
      image {
        id
      }
    }
  }
`;

export interface Version {
  id: string;
  thumbnailUrl: string;
  url: string;
  width: number;
  height: number;
  description: string | null;
  source: ImageSource;
  edits: EditInstruction[] | null;
  uploadedAt: string;
  editedAt: string;
}

const VERSION = gql`
  fragment Version on Image {
    id
    thumbnailUrl
    url
    width
    height
    description
    source
    edits
    uploadedAt
    editedAt
  }
`;

/** The image's parent (what it was made from) and the versions made from it. */
export const VERSIONS = gql`
  query Versions($id: ID!) {
    image(id: $id) {
      id
      ...Version
      parent {
        ...Version
      }
      versions(first: 30) {
        nodes {
          ...Version
        }
        totalCount
      }
    }
  }
  ${VERSION}
`;
