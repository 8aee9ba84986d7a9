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
  analysis: Analysis;
  owner: { name: string };
}

export interface ImageDetail extends FeedImage {
  url: string;
  contentType: string;
  source: 'UPLOAD' | 'GENERATION' | 'EDIT';
  uploadedAt: string;
  parent: { id: string } | null;
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
      name
      role
    }
  }
`;

export const FEED = gql`
  query Feed($first: Int!, $after: String) {
    images(first: $first, after: $after) {
      nodes {
        ...FeedImage
      }
      pageInfo {
        endCursor
        hasNextPage
      }
      totalCount
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
  mutation EditImage($imageId: ID!, $instructions: [EditInstruction!]!, $save: SaveMode!) {
    editImage(input: { imageId: $imageId, instructions: $instructions, save: $save }) {
      preview
      image {
        id
      }
    }
  }
`;
