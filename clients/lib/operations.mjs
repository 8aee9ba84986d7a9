// Every GraphQL document the client suite sends, in one place, so tests/schema.test.mjs
// can check each one against schema.graphql with graphql-js's `validate`: an operation
// that a generated client could not build from the published schema fails there.

export const FEED = /* GraphQL */ `
  query Feed($first: Int, $after: String) {
    images(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          id
          uploadedAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

export const UPLOAD_BASE64 = /* GraphQL */ `
  mutation UploadBase64($b: String!, $analyze: Boolean) {
    uploadImage(input: { base64: $b, analyze: $analyze }) {
      image {
        id
      }
    }
  }
`;

export const UPLOAD_FILE = /* GraphQL */ `
  mutation UploadFile($file: Upload!) {
    uploadImage(input: { file: $file, analyze: false }) {
      image {
        id
        url
        contentType
        width
        height
        byteSize
      }
    }
  }
`;

export const ANALYSIS_COMPLETED = /* GraphQL */ `
  subscription AnalysisCompleted {
    analysisCompleted {
      id
      description
      analysis {
        status
        model
      }
    }
  }
`;

export const ANALYZE_IMAGE = /* GraphQL */ `
  mutation AnalyzeImage($id: ID!) {
    analyzeImage(input: { imageId: $id }) {
      image {
        id
      }
    }
  }
`;

export const IMAGE = /* GraphQL */ `
  query Image($id: ID!) {
    image(id: $id) {
      id
      width
      height
      owner {
        name
      }
      commentCount
    }
  }
`;

export const ADD_COMMENT = /* GraphQL */ `
  mutation AddComment($imageId: ID!, $text: String!) {
    addComment(input: { imageId: $imageId, text: $text }) {
      comment {
        id
        text
        author {
          name
        }
        image {
          id
        }
      }
    }
  }
`;

export const NODE = /* GraphQL */ `
  query Node($id: ID!) {
    node(id: $id) {
      __typename
      id
    }
  }
`;

export const NODES = /* GraphQL */ `
  query Nodes($ids: [ID!]!) {
    nodes(ids: $ids) {
      __typename
      id
    }
  }
`;

// `$save` is nullable and may be left out: an input-object field whose variable is not
// provided takes the field's default (`save: SaveMode! = NEW_VERSION`), as the GraphQL
// specification's CoerceInputValue says and graphql-js does. Generated clients write
// operations exactly like this.
export const EDIT_WITH_OPTIONAL_SAVE = /* GraphQL */ `
  mutation EditOptionalSave($id: ID!, $save: SaveMode) {
    editImage(input: { imageId: $id, save: $save, instructions: [{ brightness: 1.2 }] }) {
      image {
        id
        source
        parent {
          id
        }
      }
      preview
    }
  }
`;

/** Every document above, by name, for the validation test. */
export const ALL = {
  FEED,
  UPLOAD_BASE64,
  UPLOAD_FILE,
  ANALYSIS_COMPLETED,
  ANALYZE_IMAGE,
  IMAGE,
  ADD_COMMENT,
  NODE,
  NODES,
  EDIT_WITH_OPTIONAL_SAVE,
};
