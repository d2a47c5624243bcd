/** The API group and version every kind of this operator lives in. */
export const GROUP = 'dedicatedhsm.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;
/** kubectl category: `kubectl get hsm` lists all three kinds. */
export const CATEGORY = 'hsm';
